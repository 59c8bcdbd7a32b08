//! The shell's commands, shared by one-shot use (`lsm DIR get KEY`) and the prompt,
//! and the tokenizer that splits a prompt line into words.

use clap::{Parser, Subcommand};

/// A command of the `lsm` shell. Keys and values are text, or hex with a `0x`
/// prefix; `""` is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ShellCommand {
    /// Print the value of KEY.
    Get {
        /// The key.
        key: String,
    },
    /// Set KEY to VALUE; with --ttl, the value expires after that long.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Time to live: a whole number and ms, s, m, h or d (500ms, 10s, 5m, 2h,
        /// 1d); after it, reads no longer return the value.
        #[arg(long, value_parser = crate::units::parse_duration)]
        ttl: Option<std::time::Duration>,
    },
    /// Delete KEY.
    Delete {
        /// The key.
        key: String,
    },
    /// Delete every key from START (included) to END (excluded) in one write.
    DeleteRange {
        /// First key deleted.
        start: String,
        /// First key kept: the range ends before it.
        end: String,
    },
    /// Delete every key starting with PREFIX in one write ("" deletes every key).
    DeletePrefix {
        /// The prefix.
        prefix: String,
    },
    /// Print live keys and values in order.
    Scan {
        /// First key included.
        #[arg(long)]
        from: Option<String>,
        /// First key excluded.
        #[arg(long)]
        to: Option<String>,
        /// At most this many pairs.
        #[arg(long)]
        limit: Option<usize>,
        /// Walk from the last key down.
        #[arg(long)]
        reverse: bool,
        /// Only keys starting with this prefix.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Print what the database holds (segments per level, memtable) and, at the
    /// prompt, the engine's counters since it was opened.
    Stats,
    /// Write the memtable out as segments.
    Flush,
    /// Run a full compaction.
    Compact,
    /// Compact the segments holding keys from START (included) to END (excluded),
    /// dropping what range deletes and tombstones hide there.
    CompactRange {
        /// First key of the range.
        start: String,
        /// First key past the range.
        end: String,
    },
    /// Describe how a lookup of KEY proceeds: memtable, levels, Bloom filters,
    /// blocks, where the answer comes from, and the range tombstone that hides it.
    Explain {
        /// The key.
        key: String,
    },
    /// List the keyspaces, marking the one commands act on with `*`.
    Keyspaces,
    /// Make the keyspace NAME the one the following commands act on ("default"
    /// is the database's default keyspace).
    Use {
        /// The keyspace.
        name: String,
        /// Create the keyspace when the database has none of that name.
        #[arg(long)]
        create: bool,
    },
}

/// One line typed at the prompt: a command, or `help` / `quit`.
#[derive(Debug, Parser)]
#[command(
    name = "",
    no_binary_name = true,
    disable_version_flag = true,
    about = "Commands at the lsm prompt. Keys and values: text, hex with a 0x prefix, or \"\" \
             for the empty string; `help COMMAND` for a command's options.",
    override_usage = "COMMAND [ARGUMENTS]"
)]
pub struct PromptLine {
    /// The command.
    #[command(subcommand)]
    pub command: PromptCommand,
}

/// What a prompt line asks for.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum PromptCommand {
    /// A database command.
    #[command(flatten)]
    Db(ShellCommand),
    /// Leave the shell.
    #[command(alias = "exit")]
    Quit,
}

/// Splits a line into words at spaces. Double quotes group words (`"a b"`) and make
/// an empty word (`""`); inside them `\"` and `\\` stand for `"` and `\`.
///
/// # Errors
/// An unterminated quote.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => w.push(e),
                            Some(other) => {
                                w.push('\\');
                                w.push(other);
                            }
                            None => return Err("unterminated quote".into()),
                        },
                        Some(other) => w.push(other),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(split_words("  put a  b ").unwrap(), ["put", "a", "b"]);
        assert_eq!(
            split_words(r#"put "two words" """#).unwrap(),
            ["put", "two words", ""]
        );
        assert_eq!(
            split_words(r#"put k "say \"hi\"""#).unwrap(),
            ["put", "k", r#"say "hi""#]
        );
        assert!(split_words(r#"put "open"#).is_err());
    }

    #[test]
    fn prompt_lines_parse() {
        let line = PromptLine::try_parse_from(["scan", "--from", "a", "--limit", "3"]).unwrap();
        assert!(matches!(
            line.command,
            PromptCommand::Db(ShellCommand::Scan { limit: Some(3), .. })
        ));
        let line = PromptLine::try_parse_from(["exit"]).unwrap();
        assert_eq!(line.command, PromptCommand::Quit);
        assert!(PromptLine::try_parse_from(["put", "only-key"]).is_err());
    }
}
