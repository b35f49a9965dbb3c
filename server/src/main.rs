//! The `kubecs` binary.

use clap::Parser;
use kubecs_server::config::Config;
use std::process::ExitCode;

/// Requests allocate many small, short-lived buffers (headers, JSON, strings); mimalloc's
/// thread-local free lists serve them for a fraction of glibc malloc's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kubecs_server::allocator::limit_retention();
    let config = Config::parse();
    // Dropped last (after the runtime), writing out every buffered log line.
    let log = kubecs_server::telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("kubecs: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(kubecs_server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            log.flush();
            eprintln!("kubecs: {err:#}");
            ExitCode::FAILURE
        }
    }
}
