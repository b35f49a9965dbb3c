//! The naming rule ECS shares across resources: cluster, service and task-definition
//! family names, and container names, are letters, digits, hyphens and underscores, up to
//! 255 of them. Each caller words its own error, as ECS does.

/// The longest name ECS accepts.
pub const MAX_NAME: usize = 255;

/// Whether `b` may appear in an ECS name.
pub fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether `name` is a valid ECS name: 1 to 255 name characters.
pub fn is_valid(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.bytes().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_hyphens_and_underscores_up_to_255() {
        assert!(is_valid("web-1_A"));
        assert!(is_valid(&"a".repeat(255)));
        for bad in ["", "a b", "a.b", "a/b", "é", &"a".repeat(256)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
