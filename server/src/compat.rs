//! The README's compatibility table, generated from the model's operation list and
//! [`crate::dispatch::IMPLEMENTED`], so it cannot drift: a test compares it with the
//! README (run it with `KUBECS_BLESS=1` to rewrite the README's table).

use crate::dispatch::IMPLEMENTED;
use kubecs_api_models::Operation;

/// Marks around the generated table in README.md.
pub const BEGIN: &str = "<!-- compat-table:begin (generated: KUBECS_BLESS=1 cargo test -p kubecs-server --test readme) -->";
pub const END: &str = "<!-- compat-table:end -->";

/// What kubecs does with an implemented operation, beyond what ECS does.
fn note(operation: Operation) -> &'static str {
    match operation {
        Operation::CreateCluster => "Idempotent for an ACTIVE name; tags, settings, configuration and service-connect defaults stored; capacity providers limited to FARGATE and FARGATE_SPOT.",
        Operation::DescribeClusters => "Names or ARNs, up to 100; unknown ones in `failures` as MISSING; `include` honoured; INACTIVE clusters stay describable.",
        Operation::ListClusters => "ACTIVE clusters, paginated (`maxResults` 1-100, opaque validated `nextToken`).",
        Operation::DeleteCluster => "Marks the cluster INACTIVE; refused while it has active services or tasks.",
        Operation::UpdateCluster => "Settings, configuration and service-connect defaults.",
        Operation::UpdateClusterSettings => "Settings are merged by name; containerInsights values checked.",
        _ => "",
    }
}

/// The Markdown table, one row per operation of the model.
pub fn table() -> String {
    let mut out = String::from("| Operation | kubecs | Notes |\n|---|---|---|\n");
    for op in Operation::ALL {
        let (status, note) = if IMPLEMENTED.contains(&op) {
            ("implemented", note(op))
        } else {
            (
                "not yet",
                "Answers `UnsupportedFeatureException` (HTTP 400).",
            )
        };
        out.push_str(&format!("| `{op}` | {status} | {note} |\n"));
    }
    let implemented = IMPLEMENTED.len();
    out.push_str(&format!(
        "\n{implemented} of {} operations implemented.\n",
        Operation::ALL.len()
    ));
    out
}
