//! One Rust struct per structure shape, one Rust enum per string enum shape.

use super::names::{snake_case, variant_name};
use super::{rust_type, Model, Shape};
use anyhow::bail;
use std::collections::BTreeSet;
use std::fmt::Write as _;

pub fn generate(model: &Model) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str("//! Every structure and string-enum shape of the ECS model as a Rust type.\n");
    out.push_str("//! Members keep their wire names through serde renames; every member is an\n");
    out.push_str(
        "//! `Option` and an absent one is omitted on the wire, never written as `null`.\n\n",
    );
    out.push_str("#![allow(clippy::large_enum_variant, clippy::doc_markdown)]\n\n");
    out.push_str("use crate::Timestamp;\nuse serde::{Deserialize, Serialize};\nuse std::collections::BTreeMap;\n\n");
    for (name, shape) in &model.shapes {
        match shape {
            Shape::Structure { document: true, .. } => {}
            Shape::Structure {
                members,
                required,
                exception,
                ..
            } => {
                let kind = if *exception { "error" } else { "structure" };
                let _ = writeln!(out, "/// The `{name}` {kind} shape.");
                if !required.is_empty() {
                    let _ = writeln!(
                        out,
                        "///\n/// Required members: {}.",
                        required
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                out.push_str(
                    "#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]\n",
                );
                let _ = writeln!(out, "pub struct {name} {{");
                let mut seen = BTreeSet::new();
                for (wire, member) in members {
                    let field = snake_case(wire);
                    if !seen.insert(field.clone()) {
                        bail!("{name}: two members map to the field {field}");
                    }
                    let ty = rust_type(model, &member.shape)?;
                    let _ = write!(out, "    /// `{wire}`: `{}`", member.shape);
                    if required.contains(wire) {
                        out.push_str(", required");
                    }
                    if member.deprecated {
                        out.push_str(", deprecated");
                    }
                    if member.idempotency_token {
                        out.push_str(", idempotency token");
                    }
                    out.push_str(".\n");
                    let _ = writeln!(
                        out,
                        "    #[serde(rename = \"{wire}\", default, skip_serializing_if = \"Option::is_none\")]\n    pub {field}: Option<{ty}>,"
                    );
                }
                out.push_str("}\n\n");
            }
            Shape::String {
                values: Some(values),
                ..
            } => generate_enum(&mut out, name, values)?,
            _ => {}
        }
    }
    Ok(out)
}

fn generate_enum(out: &mut String, name: &str, values: &[String]) -> anyhow::Result<()> {
    let variants: Vec<String> = values.iter().map(|v| variant_name(v)).collect();
    let unique: BTreeSet<&String> = variants.iter().collect();
    if unique.len() != variants.len() || unique.contains(&"Unrecognized".to_owned()) {
        bail!("{name}: enum values do not map to distinct variant names: {variants:?}");
    }
    let _ = writeln!(
        out,
        "/// The `{name}` string enum. A value the model does not list is kept in"
    );
    out.push_str("/// `Unrecognized`, so that validation can name it in its error.\n");
    out.push_str("#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]\n");
    let _ = writeln!(out, "pub enum {name} {{");
    for (v, var) in values.iter().zip(&variants) {
        let _ = writeln!(out, "    /// `{v}`\n    {var},");
    }
    out.push_str("    /// A value that is not in the model.\n    Unrecognized(String),\n}\n\n");

    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(out, "    /// Every value the model lists, in model order.");
    let _ = writeln!(
        out,
        "    pub const VALUES: &'static [&'static str] = &[{}];",
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(
        "    /// The wire value.\n    pub fn as_str(&self) -> &str {\n        match self {\n",
    );
    for (v, var) in values.iter().zip(&variants) {
        let _ = writeln!(out, "            Self::{var} => {v:?},");
    }
    out.push_str("            Self::Unrecognized(other) => other,\n        }\n    }\n\n");
    out.push_str("    /// Parses a wire value; never fails.\n    pub fn from_wire(value: &str) -> Self {\n        match value {\n");
    for (v, var) in values.iter().zip(&variants) {
        let _ = writeln!(out, "            {v:?} => Self::{var},");
    }
    out.push_str(
        "            other => Self::Unrecognized(other.to_owned()),\n        }\n    }\n\n",
    );
    out.push_str("    /// Whether the value is one the model lists.\n    pub fn is_known(&self) -> bool {\n        !matches!(self, Self::Unrecognized(_))\n    }\n}\n\n");

    let _ = writeln!(out, "impl std::fmt::Display for {name} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n");
    let _ = writeln!(out, "impl Serialize for {name} {{\n    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        s.serialize_str(self.as_str())\n    }}\n}}\n");
    let _ = writeln!(out, "impl<'de> Deserialize<'de> for {name} {{\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        crate::enums::deserialize_enum(d, Self::from_wire)\n    }}\n}}\n");
    Ok(())
}
