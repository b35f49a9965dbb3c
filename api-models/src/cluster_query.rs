//! ECS's cluster query language: the `filter` of ListContainerInstances and the
//! `expression` of a `memberOf` placement constraint. An expression compares a subject
//! with values and combines comparisons:
//!
//! - subjects: `attribute:<name>`, `ec2InstanceId`, `agentConnected`,
//!   `runningTasksCount`, `pendingTasksCount`, `registeredAt`, `task:group`;
//! - operators: `==` `equals`, `!=` `not_equals`, `>` `greater_than`, `>=`
//!   `greater_than_equal`, `<` `less_than`, `<=` `less_than_equal`, `exists`, `!exists`
//!   `not_exists`, `in`, `not_in`, `=~` `matches`, `!~` `not_matches` (`*` is a wildcard);
//!   lists are written `[a, b]` or `(a, b)`;
//! - `and` `&&`, `or` `||`, `not` `!`, and parentheses.
//!
//! [`parse`] says why a text is not an expression; the server answers that as
//! InvalidParameterException, as ECS does. The reconciler turns the expressions of
//! services' `memberOf` constraints into node affinity.

use std::collections::{BTreeMap, BTreeSet};

/// What an expression is evaluated against: one container instance.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub attributes: BTreeMap<String, String>,
    pub ec2_instance_id: Option<String>,
    pub agent_connected: bool,
    pub running_tasks_count: i64,
    pub pending_tasks_count: i64,
    /// Epoch seconds.
    pub registered_at: Option<i64>,
    /// The groups of the tasks on the instance.
    pub task_groups: BTreeSet<String>,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        subject: String,
        op: Op,
        values: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    NotExists,
    In,
    NotIn,
    Matches,
    NotMatches,
}

/// The longest expression ECS takes.
const MAX_LEN: usize = 2000;

/// Parses `text`, or says why it is not an expression ("it is too long").
pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > MAX_LEN {
        return Err("it is too long".to_owned());
    }
    let tokens = tokenize(text).ok_or("unbalanced brackets or quotes")?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err("unexpected text after the expression".to_owned());
    }
    Ok(expr)
}

fn tokenize(text: &str) -> Option<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
        } else if "()[]".contains(c) {
            tokens.push(c.to_string());
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next()? {
                    q if q == c => break,
                    other => word.push(other),
                }
            }
            tokens.push(format!("\"{word}"));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || ",()[]".contains(c) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        }
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some("not" | "!") => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.at += 1;
                let inner = self.or()?;
                if self.next().as_deref() != Some(")") {
                    return Err("a parenthesis is not closed".to_owned());
                }
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let subject = self.next().ok_or("an expression is missing")?;
        if !is_subject(&subject) {
            return Err(format!("unknown subject {subject}"));
        }
        let op = match self.next().as_deref() {
            Some("==" | "equals") => Op::Eq,
            Some("!=" | "not_equals") => Op::Ne,
            Some(">" | "greater_than") => Op::Gt,
            Some(">=" | "greater_than_equal") => Op::Ge,
            Some("<" | "less_than") => Op::Lt,
            Some("<=" | "less_than_equal") => Op::Le,
            Some("exists") => Op::Exists,
            Some("!exists" | "not_exists") => Op::NotExists,
            Some("in") => Op::In,
            Some("not_in") => Op::NotIn,
            Some("=~" | "matches") => Op::Matches,
            Some("!~" | "not_matches") => Op::NotMatches,
            Some(other) => return Err(format!("unknown operator {other}")),
            None => return Err(format!("{subject} has no operator")),
        };
        let values = match op {
            Op::Exists | Op::NotExists => Vec::new(),
            Op::In | Op::NotIn => self.list()?,
            _ => vec![self.value()?],
        };
        Ok(Expr::Compare {
            subject,
            op,
            values,
        })
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(v) if !"()[]".contains(v.as_str()) || v.len() != 1 => {
                Ok(v.strip_prefix('"').map(str::to_owned).unwrap_or(v))
            }
            _ => Err("a value is missing".to_owned()),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let close = match self.next().as_deref() {
            Some("[") => "]",
            Some("(") => ")",
            _ => return Err("in takes a list".to_owned()),
        };
        let mut values = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(values);
            }
            values.push(self.value()?);
        }
    }
}

fn is_subject(s: &str) -> bool {
    s.strip_prefix("attribute:").is_some_and(|n| !n.is_empty())
        || matches!(
            s,
            "ec2InstanceId"
                | "agentConnected"
                | "runningTasksCount"
                | "pendingTasksCount"
                | "registeredAt"
                | "task:group"
        )
}

impl Expr {
    /// Whether `subject` satisfies the expression.
    pub fn matches(&self, subject: &Subject) -> bool {
        match self {
            Expr::And(a, b) => a.matches(subject) && b.matches(subject),
            Expr::Or(a, b) => a.matches(subject) || b.matches(subject),
            Expr::Not(a) => !a.matches(subject),
            Expr::Compare {
                subject: name,
                op,
                values,
            } => {
                let found: Vec<String> = match name.as_str() {
                    "ec2InstanceId" => subject.ec2_instance_id.iter().cloned().collect(),
                    "agentConnected" => vec![subject.agent_connected.to_string()],
                    "runningTasksCount" => vec![subject.running_tasks_count.to_string()],
                    "pendingTasksCount" => vec![subject.pending_tasks_count.to_string()],
                    "registeredAt" => subject.registered_at.iter().map(i64::to_string).collect(),
                    "task:group" => subject.task_groups.iter().cloned().collect(),
                    attribute => attribute
                        .strip_prefix("attribute:")
                        .and_then(|n| subject.attributes.get(n))
                        .into_iter()
                        .cloned()
                        .collect(),
                };
                compare(*op, &found, values)
            }
        }
    }
}

fn compare(op: Op, found: &[String], values: &[String]) -> bool {
    let any = |f: &dyn Fn(&str) -> bool| found.iter().any(|v| f(v));
    let value = values.first().map(String::as_str).unwrap_or_default();
    let ordered = |want: fn(std::cmp::Ordering) -> bool| {
        any(&|v| match (v.parse::<f64>(), value.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).is_some_and(want),
            _ => want(v.cmp(value)),
        })
    };
    match op {
        Op::Eq => any(&|v| v == value),
        Op::Ne => !any(&|v| v == value),
        Op::Gt => ordered(|o| o.is_gt()),
        Op::Ge => ordered(|o| o.is_ge()),
        Op::Lt => ordered(|o| o.is_lt()),
        Op::Le => ordered(|o| o.is_le()),
        Op::Exists => !found.is_empty(),
        Op::NotExists => found.is_empty(),
        Op::In => any(&|v| values.iter().any(|w| w == v)),
        Op::NotIn => !any(&|v| values.iter().any(|w| w == v)),
        Op::Matches => any(&|v| wildcard(value, v)),
        Op::NotMatches => !any(&|v| wildcard(value, v)),
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Subject {
        Subject {
            attributes: BTreeMap::from([
                ("ecs.instance-type".to_owned(), "t2.micro".to_owned()),
                ("ecs.availability-zone".to_owned(), "us-east-1a".to_owned()),
                ("stack".to_owned(), "prod".to_owned()),
            ]),
            ec2_instance_id: Some("i-0abc".to_owned()),
            agent_connected: true,
            running_tasks_count: 2,
            task_groups: BTreeSet::from(["service:web".to_owned()]),
            ..Subject::default()
        }
    }

    fn holds(text: &str) -> bool {
        parse(text).unwrap().matches(&instance())
    }

    #[test]
    fn the_examples_of_the_ecs_documentation_are_understood() {
        assert!(holds("attribute:ecs.instance-type == t2.micro"));
        assert!(holds("attribute:ecs.instance-type =~ t2.*"));
        assert!(!holds("attribute:ecs.instance-type =~ g2.*"));
        assert!(holds(
            "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"
        ));
        assert!(holds(
            "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a"
        ));
        assert!(holds("task:group == service:web"));
        assert!(holds("not(task:group == service:production)"));
        assert!(holds("runningTasksCount > 1 && agentConnected == true"));
        assert!(holds("attribute:stack exists"));
        assert!(holds("attribute:missing !exists"));
        assert!(holds("ec2InstanceId in ['i-0abc', 'i-0def']"));
        assert!(holds("attribute:stack != dev || runningTasksCount == 0"));
    }

    #[test]
    fn malformed_expressions_are_refused_with_the_reason() {
        for (bad, why) in [
            ("", "an expression is missing"),
            ("attribute:stack", "attribute:stack has no operator"),
            ("attribute:stack ~~ prod", "unknown operator ~~"),
            ("color == red", "unknown subject color"),
            ("(attribute:stack == prod", "a parenthesis is not closed"),
            ("attribute:stack in prod", "in takes a list"),
            (
                "attribute:stack == prod extra",
                "unexpected text after the expression",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err(), why, "{bad}");
        }
    }
}
