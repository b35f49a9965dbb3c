//! Developer tasks for the kubecs workspace.
//!
//! `cargo run -p xtask -- codegen` regenerates `api-models/src/generated/` from the ECS
//! service model in `api-models/model/`; `cargo run -p xtask -- codegen --check` fails
//! when the committed generated code differs from what the model produces (CI runs it).

mod codegen;

use std::path::PathBuf;
use std::process::ExitCode;

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => {
            let check = args.iter().any(|a| a == "--check");
            codegen::run(&workspace_root(), check)
        }
        _ => {
            eprintln!("usage: cargo run -p xtask -- codegen [--check]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
