//! The README's compatibility table is the one generated from the model and the
//! dispatcher. `KUBECS_BLESS=1 cargo test -p kubecs-server --test readme` rewrites it.

use kubecs_server::compat::{table, BEGIN, END};
use std::path::PathBuf;

#[test]
fn the_readme_compatibility_table_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README has the table's begin mark");
    let end = readme.find(END).expect("README has the table's end mark");
    let current = &readme[start + BEGIN.len()..end];
    let wanted = format!("\n{}", table());
    if current != wanted {
        if std::env::var_os("KUBECS_BLESS").is_some() {
            let updated = format!(
                "{}{}{}",
                &readme[..start + BEGIN.len()],
                wanted,
                &readme[end..]
            );
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!("README.md's compatibility table is out of date: run `KUBECS_BLESS=1 cargo test -p kubecs-server --test readme`");
    }
}
