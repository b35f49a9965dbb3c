//! The subset of the Smithy/botocore JSON model format that the generator reads.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub struct Model {
    pub metadata: Metadata,
    pub operations: BTreeMap<String, OperationDef>,
    pub shapes: BTreeMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub target_prefix: String,
    pub signing_name: String,
    pub json_version: String,
    #[serde(rename = "x-kubecs-source")]
    pub source: String,
}

#[derive(Debug, Deserialize)]
pub struct OperationDef {
    pub input: Option<ShapeRef>,
    pub output: Option<ShapeRef>,
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
}

#[derive(Debug, Deserialize)]
pub struct ShapeRef {
    pub shape: String,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub shape: String,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(rename = "idempotencyToken", default)]
    pub idempotency_token: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Shape {
    Structure {
        #[serde(default)]
        members: BTreeMap<String, Member>,
        #[serde(default)]
        required: Vec<String>,
        #[serde(default)]
        exception: bool,
        #[serde(default)]
        document: bool,
    },
    List {
        member: ShapeRef,
        min: Option<u64>,
        max: Option<u64>,
    },
    Map {
        key: ShapeRef,
        value: ShapeRef,
    },
    String {
        #[serde(rename = "enum")]
        values: Option<Vec<String>>,
        min: Option<u64>,
        max: Option<u64>,
    },
    Integer {
        min: Option<f64>,
        max: Option<f64>,
    },
    Long {
        min: Option<f64>,
        max: Option<f64>,
    },
    Double {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean {},
    Timestamp {},
}

impl Model {
    pub fn parse(text: &str) -> anyhow::Result<Model> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn shape(&self, name: &str) -> anyhow::Result<&Shape> {
        self.shapes
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("the model references an unknown shape {name}"))
    }
}
