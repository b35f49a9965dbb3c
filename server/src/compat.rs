//! The README's compatibility table, generated from the model's operation list and
//! each handler family's `OPERATIONS` and `note`, so it cannot drift: a test compares it with the
//! README (run it with `KUBECS_BLESS=1` to rewrite the README's table).

use crate::ops::{is_implemented, is_not_applicable, note};
use kubecs_api_models::Operation;

/// Marks around the generated table in README.md.
pub const BEGIN: &str = "<!-- compat-table:begin (generated: KUBECS_BLESS=1 cargo test -p kubecs-server --test readme) -->";
pub const END: &str = "<!-- compat-table:end -->";

/// Why an operation kubecs does not implement yet has no handler, and what the client
/// gets. Every such operation has a reason (a test checks it).
pub fn not_yet(_op: Operation) -> &'static str {
    // Every operation of the model kubecs ships has a handler; an operation a newer model
    // adds gets its reason here.
    ""
}

/// The Markdown table, one row per operation of the model.
pub fn table() -> String {
    let mut out = String::from("| Operation | kubecs | Notes |\n|---|---|---|\n");
    for op in Operation::ALL {
        let (status, note) = if is_not_applicable(op) {
            ("not applicable", note(op))
        } else if is_implemented(op) {
            ("implemented", note(op))
        } else {
            ("not yet", not_yet(op))
        };
        out.push_str(&format!("| `{op}` | {status} | {note} |\n"));
    }
    let implemented = Operation::ALL
        .iter()
        .filter(|op| is_implemented(**op) && !is_not_applicable(**op))
        .count();
    out.push_str(&format!(
        "\n{implemented} of {} operations implemented.\n",
        Operation::ALL.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_not_yet_implemented_says_why() {
        for op in Operation::ALL {
            if !is_implemented(op) {
                assert!(!not_yet(op).is_empty(), "{op} has no reason in the table");
            }
        }
    }
}
