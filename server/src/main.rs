//! The `kubecs` binary.

use clap::Parser;
use kubecs_server::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = Config::parse();
    kubecs_server::telemetry::init(config.log_format);
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
            eprintln!("kubecs: {err:#}");
            ExitCode::FAILURE
        }
    }
}
