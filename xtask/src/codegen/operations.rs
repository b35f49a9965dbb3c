//! The `Operation` enum, the per-operation marker types and the model's metadata.

use super::{Model, Shape};
use anyhow::Context;
use std::fmt::Write as _;

pub fn generate(model: &Model) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str("//! The operations of the ECS model, their wire names and their shapes.\n\n");
    out.push_str("use crate::shapes::*;\n\n");
    let meta = &model.metadata;
    let _ = writeln!(out, "/// The prefix of `X-Amz-Target`: `<prefix>.<Operation>`.\npub const TARGET_PREFIX: &str = {:?};", meta.target_prefix);
    let _ = writeln!(
        out,
        "/// The API version of the model.\npub const API_VERSION: &str = {:?};",
        meta.api_version
    );
    let _ = writeln!(
        out,
        "/// The SigV4 signing name (service) of the model.\npub const SIGNING_NAME: &str = {:?};",
        meta.signing_name
    );
    let _ = writeln!(out, "/// The AWS JSON protocol version, for `Content-Type: application/x-amz-json-<v>`.\npub const JSON_VERSION: &str = {:?};\n", meta.json_version);

    let exceptions: Vec<&String> = model
        .shapes
        .iter()
        .filter(|(_, s)| {
            matches!(
                s,
                Shape::Structure {
                    exception: true,
                    ..
                }
            )
        })
        .map(|(n, _)| n)
        .collect();
    let _ = writeln!(
        out,
        "/// Every error shape the model declares, by wire name.\npub const MODEL_ERRORS: &[&str] = &[{}];\n",
        exceptions.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", ")
    );

    let ops: Vec<&String> = model.operations.keys().collect();
    out.push_str("/// Every operation of the ECS model.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {\n");
    for op in &ops {
        let _ = writeln!(out, "    /// `{op}`\n    {op},");
    }
    out.push_str("}\n\n");

    out.push_str("impl Operation {\n");
    let _ = writeln!(out, "    /// Every operation, in wire-name order.\n    pub const ALL: [Operation; {}] = [{}];\n", ops.len(), ops.iter().map(|o| format!("Operation::{o}")).collect::<Vec<_>>().join(", "));
    out.push_str("    /// The wire name, as in `X-Amz-Target`.\n    pub const fn name(self) -> &'static str {\n        match self {\n");
    for op in &ops {
        let _ = writeln!(out, "            Self::{op} => {op:?},");
    }
    out.push_str("        }\n    }\n\n");
    out.push_str("    /// The operation with this wire name.\n    pub fn from_name(name: &str) -> Option<Self> {\n        match name {\n");
    for op in &ops {
        let _ = writeln!(out, "            {op:?} => Some(Self::{op}),");
    }
    out.push_str("            _ => None,\n        }\n    }\n\n");
    out.push_str("    /// The errors the model says this operation can return.\n    pub const fn errors(self) -> &'static [&'static str] {\n        match self {\n");
    for op in &ops {
        let def = &model.operations[*op];
        let errs: Vec<String> = def
            .errors
            .iter()
            .map(|e| format!("{:?}", e.shape))
            .collect();
        let _ = writeln!(out, "            Self::{op} => &[{}],", errs.join(", "));
    }
    out.push_str("        }\n    }\n}\n\n");

    out.push_str("impl std::fmt::Display for Operation {\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n        f.write_str(self.name())\n    }\n}\n\n");

    out.push_str("/// One marker type per operation, tying it to its input and output shapes.\npub mod ops {\n    use super::*;\n\n");
    for op in &ops {
        let def = &model.operations[*op];
        let input = &def
            .input
            .as_ref()
            .with_context(|| format!("{op} has no input"))?
            .shape;
        let output = &def
            .output
            .as_ref()
            .with_context(|| format!("{op} has no output"))?
            .shape;
        let _ = writeln!(out, "    /// `{op}`: `{input}` -> `{output}`.\n    #[derive(Debug, Clone, Copy)]\n    pub struct {op};\n    impl crate::OperationShape for {op} {{\n        const OPERATION: Operation = Operation::{op};\n        type Input = {input};\n        type Output = {output};\n    }}\n");
    }
    out.push_str("}\n");
    Ok(out)
}
