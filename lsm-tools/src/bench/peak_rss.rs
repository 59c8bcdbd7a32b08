//! The process's peak resident memory during one workload, on Linux: the kernel's
//! high-water mark (`VmHWM` in `/proc/self/status`), reset to the current resident
//! size before the workload by writing `5` to `/proc/self/clear_refs`. Elsewhere, or
//! where the reset is refused, nothing is reported: a peak that may belong to an
//! earlier workload would mislead.

/// Resets the high-water mark to the current resident size; false when the system
/// cannot.
pub(crate) fn reset() -> bool {
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The high-water mark of the process's resident memory, in bytes.
pub(crate) fn read() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// `VmHWM:   123456 kB` of a `/proc/PID/status` text, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line.split_whitespace().skip(1);
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_is_parsed_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("VmHWM:\t12 MB\n"), None);
        assert_eq!(parse_vm_hwm("VmRSS:\t12 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn touched_memory_counts_in_the_peak() {
        let mut block = vec![0u8; 64 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        let peak = read().expect("VmHWM on Linux");
        assert!(peak >= 64 << 20, "{peak}");
        assert_eq!(
            block.iter().step_by(4096).filter(|&&b| b == 1).count(),
            16384
        );
    }
}
