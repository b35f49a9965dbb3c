//! Naming: model names to Rust identifiers.

/// `clusterArn` -> `cluster_arn`, `enableECSManagedTags` -> `enable_ecs_managed_tags`,
/// `ipv6Address` -> `ipv6_address`; Rust keywords get a raw prefix.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // The last capital of an acronym run starts a new word: "ECSManaged".
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    raw_if_keyword(out)
}

/// An enum value to a variant name: `FARGATE` -> `Fargate`, `json-file` -> `JsonFile`,
/// `EC2` -> `Ec2`, `awsvpc` -> `Awsvpc`.
pub fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for word in split_words(value) {
        let mut cs = word.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// Splits on separators and on lower-to-upper case changes, so that camel-case enum
/// values (`runTask`) and upper-snake ones (`RUN_TASK`) give the same words.
fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in value.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        } else {
            if c.is_ascii_uppercase()
                && prev.is_some_and(|p| p.is_ascii_lowercase())
                && !current.is_empty()
            {
                words.push(std::mem::take(&mut current));
            }
            current.push(c);
        }
        prev = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn raw_if_keyword(ident: String) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else {
        ident
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_become_snake_case_with_acronyms_kept_together() {
        assert_eq!(snake_case("clusterArn"), "cluster_arn");
        assert_eq!(
            snake_case("enableECSManagedTags"),
            "enable_ecs_managed_tags"
        );
        assert_eq!(snake_case("ipv6Address"), "ipv6_address");
        assert_eq!(snake_case("type"), "r#type");
        assert_eq!(snake_case("taskARN"), "task_arn");
    }

    #[test]
    fn enum_values_become_pascal_case_variants() {
        assert_eq!(variant_name("FARGATE"), "Fargate");
        assert_eq!(variant_name("json-file"), "JsonFile");
        assert_eq!(variant_name("EC2"), "Ec2");
        assert_eq!(variant_name("DAEMON_DRAINING"), "DaemonDraining");
        assert_eq!(variant_name("1"), "V1");
    }
}
