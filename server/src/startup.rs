//! Start-up: opening the store, choosing credentials and authentication, and refusing
//! unsafe combinations before anything listens.

use crate::app::AppState;
use crate::config::{AuthMode, Config};
use crate::http::auth::Auth;
use anyhow::{bail, Context};
use kubecs_sigv4::{Regions, StaticCredentials, Verifier, VerifyConfig};
use kubecs_storage::{Store, StoreOptions};
use std::time::Duration;

/// Opens the store and builds the shared state, or says exactly why it cannot.
pub fn build_state(config: &Config) -> anyhow::Result<AppState> {
    if !kubecs_sigv4::is_region_name(&config.region) {
        bail!(
            "--region: {:?} is not a region name (like us-east-1)",
            config.region
        );
    }
    let auth = auth(config)?;
    warn_if_files_run_short(config.max_connections);
    let data_dir = config.data_dir();
    let options = store_options(config);
    let store = Store::open_with(&data_dir, &options)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    Ok(AppState::new(config, store, auth))
}

/// The store's settings: the configured page cache, and the region that the data of a
/// store from before regions belongs to.
fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        cache_capacity: config.cache_mib.saturating_mul(1024 * 1024),
        legacy_region: config.region.clone(),
        ..StoreOptions::default()
    }
}

/// The regions requests may be signed for; refuses names that are no region.
fn regions(config: &Config) -> anyhow::Result<Regions> {
    if config.regions.is_empty() {
        return Ok(Regions::Any);
    }
    for region in &config.regions {
        if !kubecs_sigv4::is_region_name(region) {
            bail!("--regions: {region:?} is not a region name (like us-east-1)");
        }
    }
    if !config.regions.contains(&config.region) {
        bail!(
            "--region {} is not one of --regions {}",
            config.region,
            config.regions.join(",")
        );
    }
    Ok(Regions::Only(config.regions.clone()))
}

/// Descriptors kubecs needs besides its connections: the store's files, the log, the
/// listener, with room to spare.
const RESERVED_FILES: u64 = 64;

/// Warns when `--max-connections` connections would exhaust the open-file limit before
/// the cap stops them: then new connections fail to be accepted (EMFILE) rather than
/// being refused, and the store may fail to open a file.
fn warn_if_files_run_short(max_connections: u64) {
    let Some(limit) = open_file_limit() else {
        return;
    };
    if max_connections.saturating_add(RESERVED_FILES) > limit {
        tracing::warn!(
            max_connections,
            open_file_limit = limit,
            "--max-connections is above what the open-file limit allows: raise the limit (ulimit -n) or lower --max-connections"
        );
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or
/// when unlimited.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn auth(config: &Config) -> anyhow::Result<Auth> {
    if config.auth == AuthMode::Off {
        tracing::warn!("AUTHENTICATION IS OFF (--auth off): every request is accepted without a signature check. Use this only for local experiments.");
        return Ok(Auth::Off);
    }
    let default_file = config.data_dir().join("credentials.toml");
    let file = config
        .credentials_file
        .clone()
        .or_else(|| default_file.exists().then_some(default_file));
    let credentials = match &file {
        Some(path) => StaticCredentials::load_file(path, &config.account_id)
            .with_context(|| format!("cannot load credentials from {}", path.display()))?,
        None => StaticCredentials::local_default(&config.account_id),
    };
    if credentials.is_only_local_default() {
        if !config.listen.ip().is_loopback() {
            bail!(
                "refusing to listen on {} with only the well-known local credentials test/test: configure credentials with --credentials-file (or KUBECS_CREDENTIALS_FILE), or listen on a loopback address",
                config.listen
            );
        }
        tracing::info!(
            "no credentials configured: accepting the local pair test/test. Use:\n  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={}",
            config.region
        );
    } else {
        tracing::info!(keys = credentials.len(), "loaded credentials");
    }
    let verify = VerifyConfig {
        regions: regions(config)?,
        service: kubecs_api_models::SIGNING_NAME.to_owned(),
        max_skew: Duration::from_secs(config.max_clock_skew_secs),
    };
    Ok(Auth::SigV4(Verifier::new(verify, credentials)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_open_file_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_file_limit(unlimited), None);
    }

    #[test]
    fn the_store_gets_the_configured_cache_and_the_default_region_for_old_data() {
        let options = store_options(&Config::parse_from([
            "kubecs",
            "--cache-mib",
            "12",
            "--region",
            "eu-west-1",
        ]));
        assert_eq!(options.cache_capacity, 12 * 1024 * 1024);
        assert_eq!(options.legacy_region, "eu-west-1");
    }

    #[test]
    fn every_region_is_served_unless_an_allow_list_is_given() {
        assert_eq!(
            regions(&Config::parse_from(["kubecs"])).unwrap(),
            Regions::Any
        );
        let only = Config::parse_from(["kubecs", "--regions", "us-east-1,eu-west-1"]);
        assert_eq!(
            regions(&only).unwrap(),
            Regions::Only(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        let bad = Config::parse_from(["kubecs", "--regions", "mars"]);
        assert!(regions(&bad).is_err());
        let without_default = Config::parse_from(["kubecs", "--regions", "eu-west-1"]);
        assert!(regions(&without_default).is_err());
    }
}
