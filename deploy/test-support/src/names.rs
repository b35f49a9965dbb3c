//! Unique, valid names for per-test Kubernetes namespaces and ECS clusters, so
//! tests in many threads and many test processes never share an object.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest DNS-1123 label, the limit for namespace names.
pub const MAX_LABEL_LEN: usize = 63;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name `<prefix>-<unique suffix>` that is a valid DNS-1123 label (lower-case
/// alphanumerics and '-', at most 63 characters, starting and ending with an
/// alphanumeric), hence also a valid ECS cluster name.
///
/// The suffix combines the process id, a per-process counter and the clock, so
/// it differs between threads, between concurrent test binaries and between
/// runs against a cluster that outlived an earlier run. The prefix is cleaned
/// up (upper case lowered, other characters turned into '-') and shortened to fit.
pub fn unique_name(prefix: &str) -> String {
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Only the low 32 bits of the clock: enough to tell runs apart, and short.
    let suffix = format!(
        "{}-{}-{}",
        base36(u128::from(std::process::id())),
        base36(u128::from(count)),
        base36(nanos & 0xffff_ffff)
    );
    let mut cleaned: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let room = MAX_LABEL_LEN - suffix.len() - 1;
    cleaned.truncate(room);
    let cleaned = collapse_dashes(&cleaned);
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        format!("t-{suffix}")
    } else if cleaned.starts_with(|c: char| c.is_ascii_digit()) {
        // Valid as a label, but ECS and many humans prefer a leading letter.
        let mut name = format!("t{cleaned}");
        name.truncate(room);
        format!("{}-{suffix}", name.trim_end_matches('-'))
    } else {
        format!("{cleaned}-{suffix}")
    }
}

/// True when `name` is a valid DNS-1123 label.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn collapse_dashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        // `n % 36` is below 36, so the index is in range.
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_valid_dns_labels_whatever_the_prefix() {
        for prefix in [
            "simple",
            "Test_Name::with::Colons",
            "",
            "---",
            "9starts-with-digit",
            &"x".repeat(200),
            "ünïcödé",
        ] {
            let name = unique_name(prefix);
            assert!(is_dns_label(&name), "{prefix:?} gave invalid {name:?}");
            assert!(!name.starts_with(|c: char| c.is_ascii_digit()), "{name}");
        }
    }

    #[test]
    fn names_keep_a_readable_prefix() {
        assert!(unique_name("deploy_works").starts_with("deploy-works-"));
    }

    #[test]
    fn names_are_unique_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..200).map(|_| unique_name("t")).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for name in h.join().expect("thread panicked") {
                assert!(seen.insert(name.clone()), "duplicate {name}");
            }
        }
        assert_eq!(seen.len(), 1600);
    }

    #[test]
    fn dns_label_check_rejects_bad_names() {
        assert!(!is_dns_label("Upper"));
        assert!(!is_dns_label("-lead"));
        assert!(!is_dns_label("trail-"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_label("ok-1"));
    }

    #[test]
    fn base36_counts_like_base36() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
