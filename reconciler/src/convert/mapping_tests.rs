//! Keeps `reconciler/MAPPING.md` complete: every member of each ECS shape it has a table
//! for is listed (read from the pinned model), and no table lists a member the model lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Shapes whose tables must exist.
const REQUIRED: &[&str] = &[
    "TaskDefinition",
    "ContainerDefinition",
    "Service",
    "DeploymentConfiguration",
];

/// The members each `## \`Shape\`` section of MAPPING.md lists in its table rows.
fn mapped_members(markdown: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        if let Some(rest) = line.strip_prefix("## `") {
            let shape = rest.split('`').next().unwrap_or_default().to_owned();
            sections.entry(shape.clone()).or_default();
            current = Some(shape);
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(shape), Some(rest)) = (&current, line.strip_prefix("| `")) {
            let member = rest.split('`').next().unwrap_or_default().to_owned();
            sections.get_mut(shape).unwrap().insert(member);
        }
    }
    sections
}

#[test]
fn mapping_md_lists_every_member_of_every_shape_it_covers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("MAPPING.md")).unwrap();
    let model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../api-models/model/ecs-2014-11-13.json")).unwrap(),
    )
    .unwrap();
    let sections = mapped_members(&markdown);
    for shape in REQUIRED {
        assert!(
            sections.contains_key(*shape),
            "MAPPING.md has no table for {shape}"
        );
    }
    let mut problems = Vec::new();
    for (shape, listed) in &sections {
        let Some(members) = model["shapes"][shape]["members"].as_object() else {
            problems.push(format!("{shape} is not a structure of the model"));
            continue;
        };
        let members: BTreeSet<String> = members.keys().cloned().collect();
        for missing in members.difference(listed) {
            problems.push(format!("{shape}.{missing} is not in MAPPING.md"));
        }
        for extra in listed.difference(&members) {
            problems.push(format!(
                "{shape}.{extra} is in MAPPING.md but not in the model"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "MAPPING.md is stale:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_mapping_parser_reads_rows_of_shape_sections_only() {
    let sections = mapped_members(
        "## Intro\n| `ignored` | x |\n## `A`\n| Member |\n|---|\n| `one` | x |\n| `two` | y |\n",
    );
    assert_eq!(sections.len(), 1);
    assert_eq!(
        sections["A"],
        BTreeSet::from(["one".to_owned(), "two".to_owned()])
    );
}
