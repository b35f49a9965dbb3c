//! ECS ARNs: building them, and resolving a "name or ARN" parameter to a name.

use crate::error::ApiError;

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

/// Builds ARNs for one region and account.
#[derive(Debug, Clone)]
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

    /// The resource part (`cluster/x`, `service/c/s`, ...) of an ARN of this region and
    /// account, or `None` for anything else.
    pub fn resource_of<'a>(&self, arn: &'a str) -> Option<&'a str> {
        arn.strip_prefix(self.prefix.as_str())
    }

    /// The name a `cluster` parameter (a name or a cluster ARN) refers to, or `None` when
    /// it is an ARN of another region or account (nothing of ours can have it). A string
    /// that starts like an ARN but is not a cluster ARN is a client error.
    pub fn cluster_name<'a>(&self, ident: &'a str) -> Result<Option<&'a str>, ApiError> {
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
            return Err(ApiError::invalid_parameter(format!("Invalid ARN: {ident}")));
        };
        let Some(name) = resource.strip_prefix("cluster/") else {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid cluster ARN: {ident}"
            )));
        };
        if service != "ecs" || name.is_empty() {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid cluster ARN: {ident}"
            )));
        }
        if ident.starts_with(&self.prefix) {
            Ok(Some(name))
        } else {
            Ok(None)
        }
    }
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
    }

    #[test]
    fn a_cluster_parameter_resolves_from_a_name_or_our_arn() {
        let arns = ArnBuilder::new("us-east-1", "000000000000");
        assert_eq!(arns.cluster_name("demo").unwrap(), Some("demo"));
        let arn = arns.cluster("demo");
        assert_eq!(arns.cluster_name(&arn).unwrap(), Some("demo"));
        let other = "arn:aws:ecs:eu-west-1:000000000000:cluster/demo";
        assert_eq!(arns.cluster_name(other).unwrap(), None);
        assert!(arns
            .cluster_name("arn:aws:ecs:us-east-1:000000000000:service/x")
            .is_err());
        assert!(arns.cluster_name("arn:nonsense").is_err());
    }
}
