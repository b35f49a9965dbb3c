//! The one error type of this crate: what went wrong while finding, starting or
//! talking to the test cluster, with enough context (command, stderr) to act on.

use std::fmt;

/// Why the test cluster could not be obtained or a `kubectl` call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A program could not be started at all (missing, not executable).
    Spawn { program: String, message: String },
    /// A command ran and failed; `output` holds the tail of what it printed.
    Command {
        command: String,
        status: String,
        output: String,
    },
    /// Something was not as expected (unparsable output, a timeout, ...).
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spawn { program, message } => write!(f, "could not run {program}: {message}"),
            Error::Command {
                command,
                status,
                output,
            } => {
                write!(f, "`{command}` failed ({status}):\n{output}")
            }
            Error::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// Keeps the last `max` bytes of a command's output (cut at a char boundary):
/// the end of a log says why it failed, and a whole build log drowns it.
pub(crate) fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[...]{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_respects_char_boundaries() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("abcdef", 3), "[...]def");
        // 'é' is two bytes: cutting inside it must move forward, not panic.
        assert_eq!(tail("aéb", 2), "[...]b");
    }

    #[test]
    fn command_errors_show_the_command_and_its_output() {
        let e = Error::Command {
            command: "kubectl get nodes".into(),
            status: "exit status: 1".into(),
            output: "connection refused".into(),
        };
        let text = e.to_string();
        assert!(text.contains("kubectl get nodes"), "{text}");
        assert!(text.contains("connection refused"), "{text}");
    }
}
