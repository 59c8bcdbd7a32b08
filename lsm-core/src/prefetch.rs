//! A hint to the CPU to start loading a cache line, for searches whose next loads
//! are known before the current one has arrived: skip-list levels, the Bloom filter
//! blocks of every file a point lookup may probe.

/// Starts loading the cache line holding `p` into every cache level. A hint: it
/// reads nothing the program can observe and never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it reads nothing architecturally and never
    // faults, for any address. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
