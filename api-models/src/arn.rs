//! ECS ARNs and references: building them for a region and account, and resolving the
//! "name or ARN" parameters ECS accepts. Pure; shared by the API and the reconciler.
//!
//! A malformed parameter is an [`ArnError`] carrying the error code ECS answers with
//! (`InvalidParameterException` for cluster and service ARNs, `ClientException` for task
//! definition references, as ECS words them).

use crate::ErrorCode;

/// A parameter that is not a valid ECS ARN or reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArnError {
    pub code: ErrorCode,
    pub message: String,
}

impl ArnError {
    fn invalid_parameter(message: String) -> Self {
        ArnError {
            code: ErrorCode::InvalidParameterException,
            message,
        }
    }

    fn client(message: String) -> Self {
        ArnError {
            code: ErrorCode::ClientException,
            message,
        }
    }
}

/// The partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The family and revision a task definition ARN (`...:task-definition/<family>:<n>`)
/// names, of any region or account; `None` for anything else. For ARNs kubecs wrote
/// itself (stored records); a client's ARN goes through
/// [`ArnBuilder::task_definition_ref`], which checks region and account.
pub fn task_definition_of(arn: &str) -> Option<(&str, u32)> {
    let (_, tail) = arn.split_once(":task-definition/")?;
    let (family, revision) = tail.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// Builds and reads ARNs of one region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnBuilder {
    prefix: String,
}

impl ArnBuilder {
    pub fn new(region: &str, account_id: &str) -> Self {
        Self {
            prefix: format!("arn:{}:ecs:{region}:{account_id}:", partition(region)),
        }
    }

    /// `arn:aws:ecs:<region>:<account>:cluster/<name>`
    pub fn cluster(&self, name: &str) -> String {
        format!("{}cluster/{name}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`
    pub fn task_definition(&self, family: &str, revision: u32) -> String {
        format!("{}task-definition/{family}:{revision}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:service/<cluster>/<service>` (the long format).
    pub fn service(&self, cluster: &str, service: &str) -> String {
        format!("{}service/{cluster}/{service}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>` (the long format).
    pub fn task(&self, cluster: &str, task_id: &str) -> String {
        format!("{}task/{cluster}/{task_id}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:capacity-provider/<name>`
    pub fn capacity_provider(&self, name: &str) -> String {
        format!("{}capacity-provider/{name}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:container-instance/<cluster>/<id>` (the long format).
    pub fn container_instance(&self, cluster: &str, id: &str) -> String {
        format!("{}container-instance/{cluster}/{id}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:daemon/<cluster>/<name>`
    pub fn daemon(&self, cluster: &str, name: &str) -> String {
        format!("{}daemon/{cluster}/{name}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:daemon-task-definition/<family>:<revision>`
    pub fn daemon_task_definition(&self, family: &str, revision: u32) -> String {
        format!("{}daemon-task-definition/{family}:{revision}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:daemon-deployment/<cluster>/<name>/<id>`
    pub fn daemon_deployment(&self, cluster: &str, name: &str, id: &str) -> String {
        format!("{}daemon-deployment/{cluster}/{name}/{id}", self.prefix)
    }

    /// `arn:aws:ecs:<region>:<account>:daemon-revision/<cluster>/<name>/<id>`
    pub fn daemon_revision(&self, cluster: &str, name: &str, id: &str) -> String {
        format!("{}daemon-revision/{cluster}/{name}/{id}", self.prefix)
    }

    /// The resource part (`cluster/x`, `service/c/s`, ...) of an ARN of this region and
    /// account, or `None` for anything else.
    pub fn resource_of<'a>(&self, arn: &'a str) -> Option<&'a str> {
        arn.strip_prefix(self.prefix.as_str())
    }

    /// The name a `cluster` parameter (a name or a cluster ARN) refers to, or `None` when
    /// it is an ARN of another region or account (nothing of ours can have it). A string
    /// that starts like an ARN but is not a cluster ARN is a client error.
    pub fn cluster_name<'a>(&self, ident: &'a str) -> Result<Option<&'a str>, ArnError> {
        if !ident.starts_with("arn:") {
            return Ok(Some(ident));
        }
        // arn:<partition>:ecs:<region>:<account>:cluster/<name>
        let mut parts = ident.splitn(6, ':');
        let (Some(_), Some(_), Some(service), Some(_), Some(_), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError::invalid_parameter(format!("Invalid ARN: {ident}")));
        };
        let invalid = || ArnError::invalid_parameter(format!("Invalid cluster ARN: {ident}"));
        let name = resource.strip_prefix("cluster/").ok_or_else(invalid)?;
        if service != "ecs" || name.is_empty() {
            return Err(invalid());
        }
        if ident.starts_with(&self.prefix) {
            Ok(Some(name))
        } else {
            Ok(None)
        }
    }

    /// Parses a task definition reference: `family`, `family:revision` or the full ARN.
    pub fn task_definition_ref(&self, ident: &str) -> Result<TaskDefinitionRef, ArnError> {
        let local = if ident.starts_with("arn:") {
            self.resource_of(ident)
                .and_then(|r| r.strip_prefix("task-definition/"))
                .ok_or_else(|| ArnError::client(format!("Invalid task definition ARN: {ident}")))?
        } else {
            ident
        };
        let (family, revision) = match local.split_once(':') {
            Some((family, rev)) => {
                let revision = rev.parse::<u32>().ok().filter(|r| *r > 0).ok_or_else(|| {
                    ArnError::client(format!("Invalid revision number. Number: {rev}"))
                })?;
                (family, Some(revision))
            }
            None if ident.starts_with("arn:") => {
                return Err(ArnError::client(format!(
                    "Invalid task definition ARN: {ident}: the revision is missing"
                )))
            }
            None => (local, None),
        };
        if family.is_empty() {
            return Err(ArnError::client(
                "The task definition family cannot be empty.".to_owned(),
            ));
        }
        Ok(TaskDefinitionRef {
            family: family.to_owned(),
            revision,
        })
    }
}

/// A task definition reference as ECS accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    pub family: String,
    /// `None`: the latest ACTIVE revision.
    pub revision: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_arns_use_the_region_partition_and_account() {
        let arns = ArnBuilder::new("us-east-1", "123456789012");
        assert_eq!(
            arns.cluster("demo"),
            "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
        );
        let cn = ArnBuilder::new("cn-north-1", "1");
        assert_eq!(cn.cluster("d"), "arn:aws-cn:ecs:cn-north-1:1:cluster/d");
        let gov = ArnBuilder::new("us-gov-west-1", "1");
        assert_eq!(
            gov.service("c", "s"),
            "arn:aws-us-gov:ecs:us-gov-west-1:1:service/c/s"
        );
    }

    #[test]
    fn a_cluster_parameter_resolves_from_a_name_or_our_arn() {
        let arns = ArnBuilder::new("us-east-1", "000000000000");
        assert_eq!(arns.cluster_name("demo").unwrap(), Some("demo"));
        let arn = arns.cluster("demo");
        assert_eq!(arns.cluster_name(&arn).unwrap(), Some("demo"));
        let other = "arn:aws:ecs:eu-west-1:000000000000:cluster/demo";
        assert_eq!(arns.cluster_name(other).unwrap(), None);
        let err = arns
            .cluster_name("arn:aws:ecs:us-east-1:000000000000:service/x")
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
        assert!(arns.cluster_name("arn:nonsense").is_err());
    }

    #[test]
    fn task_definition_references_parse_as_ecs_accepts_them() {
        let arns = ArnBuilder::new("eu-west-1", "1");
        let parsed = |s: &str| arns.task_definition_ref(s);
        assert_eq!(
            parsed("web").unwrap(),
            TaskDefinitionRef {
                family: "web".into(),
                revision: None
            }
        );
        assert_eq!(parsed("web:3").unwrap().revision, Some(3));
        assert_eq!(
            parsed(&arns.task_definition("web", 7)).unwrap(),
            TaskDefinitionRef {
                family: "web".into(),
                revision: Some(7)
            }
        );
        for bad in [
            "web:0",
            "web:x",
            ":3",
            "arn:aws:ecs:eu-west-1:1:task-definition/web",
            "arn:aws:ecs:us-east-1:1:task-definition/web:1",
        ] {
            let err = parsed(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::ClientException, "{bad}");
        }
    }
}
