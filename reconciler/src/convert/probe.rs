//! An ECS container health check as a Kubernetes readiness probe.
//!
//! Always an exec probe, never HTTP or TCP: the probe runs inside the container, as
//! Docker runs ECS health checks, and a kubelet (the test cluster's hollow one included)
//! never dials a pod IP for it. `CMD-SHELL x` runs `/bin/sh -c x` (Docker's shell form:
//! arguments after the first become `$0`...); `CMD a b` runs `a b`; `NONE` disables the
//! check. ECS's defaults are written out (interval 30 s, timeout 5 s, 3 retries), because
//! Kubernetes's own (10 s, 1 s, 3) differ.

use k8s_openapi::api::core::v1::{ExecAction, Probe};
use kubecs_api_models::HealthCheck;

use super::validate::Unsupported;

/// ECS's health check interval when none is given, seconds.
pub const DEFAULT_INTERVAL: i32 = 30;
/// ECS's health check timeout when none is given, seconds.
pub const DEFAULT_TIMEOUT: i32 = 5;
/// ECS's health check retries when none are given.
pub const DEFAULT_RETRIES: i32 = 3;

/// The readiness probe for a container's health check; `None` for `NONE`.
pub fn readiness_probe(container: &str, check: &HealthCheck) -> Result<Option<Probe>, Unsupported> {
    let command = check.command.as_deref().unwrap_or_default();
    let exec = match command.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            let mut argv = vec!["/bin/sh".to_owned(), "-c".to_owned()];
            argv.extend(rest.iter().cloned());
            argv
        }
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, _)) if kind == "NONE" => return Ok(None),
        _ => {
            return Err(Unsupported::container(
                container,
                "healthCheck.command",
                "the command must start with CMD, CMD-SHELL or NONE and, for CMD and CMD-SHELL, name what to run.",
            ))
        }
    };
    Ok(Some(Probe {
        exec: Some(ExecAction {
            command: Some(exec),
        }),
        period_seconds: Some(check.interval.unwrap_or(DEFAULT_INTERVAL)),
        timeout_seconds: Some(check.timeout.unwrap_or(DEFAULT_TIMEOUT)),
        failure_threshold: Some(check.retries.unwrap_or(DEFAULT_RETRIES)),
        initial_delay_seconds: check.start_period.filter(|s| *s > 0),
        ..Probe::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &[&str]) -> HealthCheck {
        HealthCheck {
            command: Some(command.iter().map(|s| (*s).to_owned()).collect()),
            ..HealthCheck::default()
        }
    }

    fn argv(probe: &Probe) -> Vec<String> {
        probe.exec.clone().unwrap().command.unwrap()
    }

    #[test]
    fn cmd_shell_runs_through_bin_sh_c() {
        let probe = readiness_probe(
            "web",
            &check(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            argv(&probe),
            ["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"]
        );
    }

    #[test]
    fn cmd_runs_its_arguments_directly() {
        let probe = readiness_probe("web", &check(&["CMD", "/healthz", "--quick"]))
            .unwrap()
            .unwrap();
        assert_eq!(argv(&probe), ["/healthz", "--quick"]);
    }

    #[test]
    fn none_disables_the_probe() {
        assert_eq!(readiness_probe("web", &check(&["NONE"])).unwrap(), None);
    }

    #[test]
    fn a_command_without_cmd_or_cmd_shell_is_refused() {
        assert!(readiness_probe("web", &check(&["curl", "localhost"])).is_err());
        assert!(readiness_probe("web", &check(&["CMD"])).is_err());
        assert!(readiness_probe("web", &check(&[])).is_err());
    }

    #[test]
    fn the_probe_is_exec_only() {
        let probe = readiness_probe("web", &check(&["CMD", "true"]))
            .unwrap()
            .unwrap();
        assert!(probe.http_get.is_none());
        assert!(probe.tcp_socket.is_none());
        assert!(probe.grpc.is_none());
    }

    #[test]
    fn timings_map_field_by_field() {
        let probe = readiness_probe(
            "web",
            &HealthCheck {
                interval: Some(10),
                timeout: Some(2),
                retries: Some(5),
                start_period: Some(60),
                ..check(&["CMD", "true"])
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(probe.period_seconds, Some(10));
        assert_eq!(probe.timeout_seconds, Some(2));
        assert_eq!(probe.failure_threshold, Some(5));
        assert_eq!(probe.initial_delay_seconds, Some(60));
    }

    #[test]
    fn ecs_defaults_are_written_out() {
        let probe = readiness_probe("web", &check(&["CMD", "true"]))
            .unwrap()
            .unwrap();
        assert_eq!(probe.period_seconds, Some(30));
        assert_eq!(probe.timeout_seconds, Some(5));
        assert_eq!(probe.failure_threshold, Some(3));
        assert_eq!(probe.initial_delay_seconds, None);
    }
}
