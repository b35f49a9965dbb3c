//! Where ECS's references to AWS stores point in Kubernetes, by convention: a Secret or
//! ConfigMap that the user creates in the cluster's namespace, named after what ECS names.
//!
//! - A secret's `valueFrom` (an SSM parameter name or ARN, or a Secrets Manager ARN) reads
//!   key `value` of the Secret [`reference_name`]`(<parameter or secret name>)`, or, when
//!   the Secrets Manager ARN names a JSON key (`...:secret:<name>:<json-key>::`), that key.
//!   A leading `/` of a parameter name is dropped, so `/prod/db` and
//!   `arn:aws:ssm:...:parameter/prod/db` are the same Secret. Version stages and ids are
//!   not mapped: the Secret holds one value.
//! - An environment file (`arn:aws:s3:::bucket/key.env`) is every key of the ConfigMap
//!   [`reference_name`]`("bucket/key.env")` (`kubectl create configmap --from-env-file`).
//! - `repositoryCredentials.credentialsParameter` names the pull Secret
//!   [`reference_name`]`(<secret name>)` (a `kubernetes.io/dockerconfigjson` Secret).

use k8s_openapi::api::core::v1::SecretKeySelector;

use super::names::reference_name;
use super::validate::Unsupported;

/// The key of a Secret that holds one value.
pub const VALUE_KEY: &str = "value";

/// The AWS name of what a `valueFrom` points at, and the JSON key it picks, if any.
fn parse_value_from(value_from: &str) -> Option<(String, Option<String>)> {
    let Some(rest) = value_from.strip_prefix("arn:") else {
        let name = value_from.trim_start_matches('/');
        return (!name.is_empty()).then(|| (name.to_owned(), None));
    };
    // arn:<partition>:<service>:<region>:<account>:<resource...>
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [_, service, _, _, resource] = parts.as_slice() else {
        return None;
    };
    match *service {
        "ssm" => {
            let name = resource.strip_prefix("parameter")?.trim_start_matches('/');
            (!name.is_empty()).then(|| (name.to_owned(), None))
        }
        "secretsmanager" => {
            let mut fields = resource.strip_prefix("secret:")?.split(':');
            let name = fields.next().filter(|n| !n.is_empty())?;
            let key = fields.next().filter(|k| !k.is_empty()).map(str::to_owned);
            Some((name.to_owned(), key))
        }
        _ => None,
    }
}

/// Whether a Secret key is valid: 1-253 of `[-._a-zA-Z0-9]`.
fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The Secret and key a container secret's `valueFrom` reads.
pub fn secret_key_ref(container: &str, value_from: &str) -> Result<SecretKeySelector, Unsupported> {
    let (name, key) = parse_value_from(value_from).ok_or_else(|| {
        Unsupported::container(
            container,
            "secrets.valueFrom",
            format!("'{value_from}' is neither an SSM parameter nor a Secrets Manager secret."),
        )
    })?;
    let key = key.unwrap_or_else(|| VALUE_KEY.to_owned());
    if !is_secret_key(&key) {
        return Err(Unsupported::container(
            container,
            "secrets.valueFrom",
            format!("the JSON key '{key}' cannot be a Kubernetes Secret key (letters, digits, '-', '_', '.')."),
        ));
    }
    Ok(SecretKeySelector {
        name: reference_name(&name),
        key,
        optional: None,
    })
}

/// The ConfigMap an environment file's S3 ARN names.
pub fn env_file_config_map(container: &str, arn: &str) -> Result<String, Unsupported> {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":s3:::"))
        .map(|(_, object)| object)
        .filter(|object| !object.is_empty())
        .map(reference_name)
        .ok_or_else(|| {
            Unsupported::container(
                container,
                "environmentFiles.value",
                format!("'{arn}' is not the ARN of an S3 object."),
            )
        })
}

/// The image pull Secret a `repositoryCredentials.credentialsParameter` names.
pub fn pull_secret(container: &str, credentials_parameter: &str) -> Result<String, Unsupported> {
    parse_value_from(credentials_parameter)
        .map(|(name, _)| reference_name(&name))
        .ok_or_else(|| {
            Unsupported::container(
                container,
                "repositoryCredentials.credentialsParameter",
                format!("'{credentials_parameter}' is not a Secrets Manager secret."),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_parameter_name_reads_key_value_of_the_same_named_secret() {
        let r = secret_key_ref("app", "db-password").unwrap();
        assert_eq!(r.name, "db-password");
        assert_eq!(r.key, "value");
    }

    #[test]
    fn a_parameter_path_and_its_arn_read_the_same_secret() {
        let plain = secret_key_ref("app", "/prod/db").unwrap();
        let arn = secret_key_ref(
            "app",
            "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db",
        )
        .unwrap();
        assert_eq!(plain, arn);
        assert!(plain.name.starts_with("prod-db-"), "{}", plain.name);
    }

    #[test]
    fn a_secrets_manager_arn_reads_its_secret_name() {
        let r = secret_key_ref(
            "app",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-creds-AbCdEf",
        )
        .unwrap();
        assert_eq!(r.key, "value");
        assert!(r.name.starts_with("db-creds-abcdef-"), "{}", r.name);
    }

    #[test]
    fn a_secrets_manager_json_key_becomes_the_secret_key() {
        let r = secret_key_ref(
            "app",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:db:password::",
        )
        .unwrap();
        assert_eq!(r.name, "db");
        assert_eq!(r.key, "password");
    }

    #[test]
    fn a_json_key_that_cannot_be_a_secret_key_is_refused() {
        assert!(secret_key_ref(
            "app",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:db:pass word::",
        )
        .is_err());
    }

    #[test]
    fn an_arn_of_another_service_is_refused() {
        assert!(secret_key_ref("app", "arn:aws:s3:::bucket/key").is_err());
        assert!(secret_key_ref("app", "").is_err());
    }

    #[test]
    fn an_environment_file_names_a_config_map_after_its_object() {
        let name = env_file_config_map("app", "arn:aws:s3:::my-bucket/envs/app.env").unwrap();
        assert!(name.starts_with("my-bucket-envs-app-env-"), "{name}");
        assert!(env_file_config_map("app", "s3://bucket/app.env").is_err());
    }

    #[test]
    fn repository_credentials_name_a_pull_secret() {
        let name = pull_secret(
            "app",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:registry",
        )
        .unwrap();
        assert_eq!(name, "registry");
    }
}
