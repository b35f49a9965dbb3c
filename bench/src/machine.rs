//! What the figures were measured on: the machine (cores, CPU model, memory, load) and the
//! versions (kubecs git revision, moto, rustc), so every table says where it comes from.

use serde::Serialize;
use std::process::Command;

/// The machine and versions of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    /// `/proc/loadavg` when the run started and ended: other builds on this shared machine
    /// make figures noisy, and this is how a reader can tell.
    pub loadavg_start: String,
    pub loadavg_end: String,
    /// Share of CPU time the hypervisor took from this VM during the run (`steal` in
    /// `/proc/stat`): other tenants of the host slow every figure, and this shows how much.
    pub steal_percent: f64,
    #[serde(skip)]
    pub cpu_at_start: Option<CpuCounters>,
    pub kubecs_git_rev: String,
    pub moto_version: String,
    pub rustc: String,
}

impl Machine {
    pub fn probe(python: &str, with_moto: bool) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let rev = output("git", &["rev-parse", "--short=12", "HEAD"]);
        // A dirty tree is worth knowing about: the binary may include uncommitted work.
        let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Machine {
            date_utc: utc_now_rfc3339(),
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            mem_total_mib: mem_total_kib / 1024,
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            loadavg_start: loadavg(),
            loadavg_end: String::new(),
            steal_percent: 0.0,
            cpu_at_start: CpuCounters::read(),
            kubecs_git_rev: if dirty { format!("{rev}+dirty") } else { rev },
            moto_version: if with_moto {
                output(python, &["-c", "import moto; print(moto.__version__)"])
            } else {
                "not run".into()
            },
            rustc: output("rustc", &["--version"]),
        }
    }
}

impl Machine {
    /// Stamps the end of the run: load average and the steal share since the start.
    pub fn finish(&mut self) {
        self.loadavg_end = loadavg();
        if let (Some(a), Some(b)) = (self.cpu_at_start, CpuCounters::read()) {
            let total = b.total.saturating_sub(a.total);
            if total > 0 {
                self.steal_percent = 100.0 * b.steal.saturating_sub(a.steal) as f64 / total as f64;
            }
        }
    }
}

/// The machine-wide CPU counters of `/proc/stat` (ticks).
#[derive(Debug, Clone, Copy)]
pub struct CpuCounters {
    total: u64,
    steal: u64,
}

impl CpuCounters {
    fn read() -> Option<CpuCounters> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // already counted in user, so the total stops at steal.
        Some(CpuCounters {
            total: fields.iter().take(8).sum(),
            steal: *fields.get(7)?,
        })
    }
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes).
pub fn loadavg() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn utc_now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A file-name-safe UTC timestamp, e.g. `2026-11-21T2330Z`.
pub fn utc_stamp() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour][minute]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "unknown-date".into())
}
