//! Checking a request against the model's constraints.
//!
//! The generated `Validate` implementations walk a request and report every member that
//! breaks a constraint, with its wire path (`containerDefinitions[0].name`). The server
//! answers the first violation with `InvalidParameterException` (HTTP 400): ECS reports
//! bad parameter values with that error, not with a generic `ValidationException` (ECS's
//! model has none). Evidence, from real ECS responses quoted in public issue trackers:
//! - enum: "InvalidParameterException: include should be one of
//!   [ATTACHMENTS,SETTINGS,STATISTICS,TAGS]" (hashicorp/terraform-provider-aws#23342);
//! - pattern: "InvalidParameterException ... Cluster must match ^[a-zA-Z0-9\-_]{1,255}$,
//!   but was ..." (awslabs/amazon-ecs-nodejs-microservices#18);
//! - empty member: "Services cannot be empty. (Aws::ECS::Errors::InvalidParameterException)"
//!   (boltops-tools/aws-inventory#4).
//!
//! For missing members, lengths and ranges we use the standard AWS wording ("1 validation
//! error detected: Value null at 'x' failed to satisfy constraint: Member must not be
//! null"), which names the member and the constraint.

use std::fmt;

/// A value that can be checked against the model's constraints.
pub trait Validate {
    /// Reports every violation inside `self` to `v`.
    fn validate(&self, v: &mut Validator);
}

/// Checks `value` and returns its first violation, if any.
pub fn validate<T: Validate>(value: &T) -> Result<(), Violation> {
    let mut v = Validator::default();
    value.validate(&mut v);
    match v.violations.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Member(&'static str),
    Index(usize),
    Key(String),
}

/// Collects violations while the generated code walks a value.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<Segment>,
    violations: Vec<Violation>,
}

/// What was wrong with a member.
#[derive(Debug, Clone, PartialEq)]
pub enum ViolationKind {
    /// A required member is absent.
    Missing,
    /// A string enum member has a value the model does not list.
    NotOneOf {
        /// The value sent.
        value: String,
        /// The values the model lists.
        allowed: &'static [&'static str],
    },
    /// A string or list is shorter or longer than the model allows.
    Length {
        /// Its length.
        actual: usize,
        /// The model's minimum.
        min: Option<u64>,
        /// The model's maximum.
        max: Option<u64>,
    },
    /// A number is outside the model's range.
    Range {
        /// Its value.
        actual: f64,
        /// The model's minimum.
        min: Option<f64>,
        /// The model's maximum.
        max: Option<f64>,
    },
}

/// One broken constraint: where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The member's wire path, e.g. `containerDefinitions[0].name`.
    pub path: String,
    /// What was wrong.
    pub kind: ViolationKind,
}

impl Validator {
    /// Steps into a member.
    pub fn enter(&mut self, member: &'static str) {
        self.path.push(Segment::Member(member));
    }

    /// Steps into a list element.
    pub fn enter_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    /// Steps into a map entry.
    pub fn enter_key(&mut self, key: &str) {
        self.path.push(Segment::Key(key.to_owned()));
    }

    /// Steps out of the innermost member, element or entry.
    pub fn leave(&mut self) {
        self.path.pop();
    }

    /// A required member is absent.
    pub fn missing(&mut self, member: &'static str) {
        self.enter(member);
        self.report(ViolationKind::Missing);
        self.leave();
    }

    /// An enum value must be one the model lists.
    pub fn one_of(&mut self, value: &str, known: bool, allowed: &'static [&'static str]) {
        if !known {
            self.report(ViolationKind::NotOneOf {
                value: value.to_owned(),
                allowed,
            });
        }
    }

    /// A list length must be within bounds.
    pub fn length(&mut self, actual: usize, min: Option<u64>, max: Option<u64>) {
        let len = actual as u64;
        if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
            self.report(ViolationKind::Length { actual, min, max });
        }
    }

    /// A string length, in characters as Smithy counts them, must be within bounds.
    pub fn string_length(&mut self, value: &str, min: Option<u64>, max: Option<u64>) {
        self.length(value.chars().count(), min, max);
    }

    /// A number must be within bounds.
    pub fn range(&mut self, actual: f64, min: Option<f64>, max: Option<f64>) {
        if min.is_some_and(|m| actual < m) || max.is_some_and(|m| actual > m) {
            self.report(ViolationKind::Range { actual, min, max });
        }
    }

    fn report(&mut self, kind: ViolationKind) {
        let mut path = String::new();
        for seg in &self.path {
            match seg {
                Segment::Member(m) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(m);
                }
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
                Segment::Key(k) => path.push_str(&format!("[{k:?}]")),
            }
        }
        self.violations.push(Violation { path, kind });
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            ViolationKind::Missing => write!(
                f,
                "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
            ),
            ViolationKind::NotOneOf { allowed, .. } => {
                write!(f, "{path} should be one of [{}]", allowed.join(","))
            }
            ViolationKind::Length { actual, min, max } => {
                let bound = match (min, max) {
                    (Some(min), _) if (*actual as u64) < *min => {
                        format!("greater than or equal to {min}")
                    }
                    (_, Some(max)) => format!("less than or equal to {max}"),
                    _ => "within bounds".to_owned(),
                };
                write!(
                    f,
                    "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length {bound}"
                )
            }
            ViolationKind::Range { actual, min, max } => {
                let bound = match (min, max) {
                    (Some(min), _) if actual < min => format!("greater than or equal to {min}"),
                    (_, Some(max)) => format!("less than or equal to {max}"),
                    _ => "within bounds".to_owned(),
                };
                write!(
                    f,
                    "1 validation error detected: Value '{actual}' at '{path}' failed to satisfy constraint: Member must have value {bound}"
                )
            }
        }
    }
}
