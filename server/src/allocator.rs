//! The allocator's one setting: how long freed memory stays committed.
//!
//! The binary allocates with mimalloc (`main.rs`). mimalloc 3 keeps freed pages committed
//! for 1,000 ms before it returns them to the OS (its `purge_delay`), and under write load
//! kubecs frees a lot in that window: sled's replaced nodes, the log's buffers, request
//! JSON. With the default, filling kubecs-bench's large store (100,000 revisions and
//! 10,000 services, `--scenarios ListTaskDefinitions`) peaked close to or over the 100 MB
//! target; 10 ms kept it well under (figures of the older store in bench/JOURNAL.md).
//! 10 ms is the value mimalloc's own header documents and mimalloc 2 used.

use std::ffi::c_long;

/// The purge delay kubecs runs with, in milliseconds.
pub const PURGE_DELAY_MS: c_long = 10;

/// `mi_option_purge_delay` in libmimalloc-sys 0.1.49's mimalloc.h (version pinned in
/// Cargo.toml); the crate does not export option constants.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the purge delay, unless the operator chose one with mimalloc's own
/// `MIMALLOC_PURGE_DELAY`. Call it first thing in `main`, before any other thread exists.
pub fn limit_retention() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    set_purge_delay(PURGE_DELAY_MS);
}

#[allow(unsafe_code)]
fn set_purge_delay(ms: c_long) {
    // SAFETY: mi_option_set stores an integer in mimalloc's option table; any value is
    // valid for this option. It is not synchronized, which is why it runs before kubecs
    // starts any thread (see `limit_retention`).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
}

/// The purge delay mimalloc uses now.
#[allow(unsafe_code)]
pub fn purge_delay() -> c_long {
    // SAFETY: mi_option_get only reads mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_set_unless_the_operator_chose_one() {
        // Test binaries run without MIMALLOC_PURGE_DELAY unless someone sets it.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(
            purge_delay(),
            1000,
            "mimalloc 3's default: the option number is right"
        );
        limit_retention();
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
    }
}
