//! `Validate` for every structure shape: the model's required members, enum values,
//! lengths and ranges, checked member by member with the wire path of each.
//!
//! The model's four `pattern` traits (instance-type names, tag keys and values) are not
//! generated: they need Unicode classes, and the handlers that own those members check
//! them with ECS's own messages.

use super::names::snake_case;
use super::{Model, Shape};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub fn generate(model: &Model) -> anyhow::Result<String> {
    let mut memo = BTreeMap::new();
    let mut out = String::new();
    out.push_str("//! The model's constraints as `Validate` implementations.\n\n");
    out.push_str("#![allow(clippy::needless_borrow, clippy::collapsible_if, clippy::ptr_arg, clippy::unnecessary_cast)]\n\n");
    out.push_str("use crate::shapes::*;\nuse crate::validate::{Validate, Validator};\n\n");
    for (name, shape) in &model.shapes {
        let Shape::Structure {
            members,
            required,
            document: false,
            ..
        } = shape
        else {
            continue;
        };
        let _ = writeln!(out, "impl Validate for {name} {{");
        let mut body = String::new();
        for (wire, member) in members {
            let field = snake_case(wire);
            let is_required = required.contains(wire);
            let constrained = has_constraints(model, &member.shape, &mut memo)?;
            if !is_required && !constrained {
                continue;
            }
            if constrained {
                let _ = writeln!(
                    body,
                    "        if let Some(value) = &self.{field} {{\n            v.enter({wire:?});"
                );
                check(model, &member.shape, "value", &mut body, &mut memo)?;
                body.push_str("            v.leave();\n        }");
                if is_required {
                    let _ = write!(
                        body,
                        " else {{\n            v.missing({wire:?});\n        }}"
                    );
                }
                body.push('\n');
            } else {
                let _ = writeln!(body, "        if self.{field}.is_none() {{\n            v.missing({wire:?});\n        }}");
            }
        }
        if body.is_empty() {
            out.push_str("    fn validate(&self, _v: &mut Validator) {}\n");
        } else {
            out.push_str("    fn validate(&self, v: &mut Validator) {\n");
            out.push_str(&body);
            out.push_str("    }\n");
        }
        out.push_str("}\n\n");
    }
    Ok(out)
}

/// Whether a value of `shape` can break a constraint (directly or inside it).
fn has_constraints(
    model: &Model,
    shape: &str,
    memo: &mut BTreeMap<String, bool>,
) -> anyhow::Result<bool> {
    if let Some(known) = memo.get(shape) {
        return Ok(*known);
    }
    // Provisional answer guards against cycles (the ECS model has none today).
    memo.insert(shape.to_owned(), false);
    let answer = match model.shape(shape)? {
        Shape::Structure { document: true, .. } => false,
        Shape::Structure {
            members, required, ..
        } => {
            let mut any = !required.is_empty();
            for m in members.values() {
                any |= has_constraints(model, &m.shape, memo)?;
            }
            any
        }
        Shape::List { member, min, max } => {
            min.is_some() || max.is_some() || has_constraints(model, &member.shape, memo)?
        }
        Shape::Map { key, value } => {
            has_constraints(model, &key.shape, memo)? | has_constraints(model, &value.shape, memo)?
        }
        Shape::String {
            values, min, max, ..
        } => values.is_some() || min.is_some() || max.is_some(),
        Shape::Integer { min, max } | Shape::Long { min, max } | Shape::Double { min, max } => {
            min.is_some() || max.is_some()
        }
        Shape::Boolean {} | Shape::Timestamp {} => false,
    };
    memo.insert(shape.to_owned(), answer);
    Ok(answer)
}

/// Emits the checks for `expr` (a reference to a value of `shape`).
fn check(
    model: &Model,
    shape: &str,
    expr: &str,
    out: &mut String,
    memo: &mut BTreeMap<String, bool>,
) -> anyhow::Result<()> {
    let opt = |v: &Option<f64>| v.map_or("None".to_owned(), |x| format!("Some({x:?})"));
    let optu = |v: &Option<u64>| v.map_or("None".to_owned(), |x| format!("Some({x})"));
    match model.shape(shape)? {
        Shape::Structure { document: true, .. } => {}
        Shape::Structure { .. } => {
            let _ = writeln!(out, "            {expr}.validate(v);");
        }
        Shape::List { member, min, max } => {
            if min.is_some() || max.is_some() {
                let _ = writeln!(
                    out,
                    "            v.length({expr}.len(), {}, {});",
                    optu(min),
                    optu(max)
                );
            }
            if has_constraints(model, &member.shape, memo)? {
                let _ = writeln!(out, "            for (i, item) in {expr}.iter().enumerate() {{\n            v.enter_index(i);");
                check(model, &member.shape, "item", out, memo)?;
                out.push_str("            v.leave();\n            }\n");
            }
        }
        Shape::Map { key, value } => {
            let key_c = has_constraints(model, &key.shape, memo)?;
            let value_c = has_constraints(model, &value.shape, memo)?;
            if key_c || value_c {
                let _ = writeln!(out, "            for (key, item) in {expr}.iter() {{\n            v.enter_key(key);");
                if key_c {
                    check(model, &key.shape, "key", out, memo)?;
                }
                if value_c {
                    check(model, &value.shape, "item", out, memo)?;
                }
                out.push_str("            v.leave();\n            }\n");
            }
        }
        Shape::String {
            values: Some(_), ..
        } => {
            let _ = writeln!(
                out,
                "            v.one_of({expr}.as_str(), {expr}.is_known(), {shape}::VALUES);"
            );
        }
        Shape::String {
            values: None,
            min,
            max,
            ..
        } => {
            if min.is_some() || max.is_some() {
                let _ = writeln!(
                    out,
                    "            v.string_length({expr}, {}, {});",
                    optu(min),
                    optu(max)
                );
            }
        }
        Shape::Integer { min, max } | Shape::Long { min, max } | Shape::Double { min, max } => {
            if min.is_some() || max.is_some() {
                let _ = writeln!(
                    out,
                    "            v.range(*{expr} as f64, {}, {});",
                    opt(min),
                    opt(max)
                );
            }
        }
        Shape::Boolean {} | Shape::Timestamp {} => {}
    }
    Ok(())
}
