//! DescribeServices' answer built from services already encoded as JSON.
//!
//! Decoding ten stored services and encoding them again was ~45% of DescribeServices'
//! CPU (BENCHMARKS.md). Each service's JSON is derived once per stored version
//! (`kubecs_storage::DerivedCache`) and spliced into the answer; `DescribedServices`
//! encodes to the same JSON value as `DescribeServicesResponse` would (a test below holds
//! it to that; only a tagged service's member order differs).

use kubecs_api_models::{Failure, Service, Tag};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;

use crate::error::ApiError;

/// A service as DescribeServices shows it without tags, encoded. The stored service never
/// holds tags (they live in the tags table), but clear them anyway: this is the
/// tag-less form.
pub fn encode(mut service: Service) -> Result<Box<RawValue>, ApiError> {
    service.tags = None;
    let json = serde_json::to_string(&service).map_err(|e| ApiError::internal(&e))?;
    RawValue::from_string(json).map_err(|e| ApiError::internal(&e))
}

/// One described service: the cached encoding, or that encoding with its tags added.
#[derive(Debug)]
pub enum WireService {
    Plain(Arc<Box<RawValue>>),
    Tagged(Box<RawValue>),
}

impl WireService {
    /// The service with a `tags` member appended (`include: ["TAGS"]`). JSON member
    /// order carries no meaning (the model's encoder sorts members by name; this puts
    /// `tags` last), so clients see the same object.
    pub fn tagged(plain: &RawValue, tags: &[Tag]) -> Result<WireService, ApiError> {
        let object = plain.get();
        let Some(body) = object.strip_suffix('}') else {
            return Err(ApiError::internal(&"a cached service is not a JSON object"));
        };
        let tags = serde_json::to_string(tags).map_err(|e| ApiError::internal(&e))?;
        let separator = if body.trim_end() == "{" { "" } else { "," };
        let json = format!("{body}{separator}\"tags\":{tags}}}");
        Ok(WireService::Tagged(
            RawValue::from_string(json).map_err(|e| ApiError::internal(&e))?,
        ))
    }
}

impl Serialize for WireService {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            WireService::Plain(raw) => raw.serialize(serializer),
            WireService::Tagged(raw) => raw.serialize(serializer),
        }
    }
}

/// DescribeServicesResponse with services already encoded.
#[derive(Debug, Serialize)]
pub struct DescribedServices {
    pub services: Vec<WireService>,
    pub failures: Vec<Failure>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::{
        DeploymentConfiguration, DescribeServicesResponse, SchedulingStrategy, Timestamp,
    };

    fn service(name: &str) -> Service {
        Service {
            service_arn: Some(format!(
                "arn:aws:ecs:us-east-1:000000000000:service/c/{name}"
            )),
            service_name: Some(name.to_owned()),
            status: Some("ACTIVE".to_owned()),
            desired_count: Some(2),
            running_count: Some(0),
            created_at: Some(Timestamp::from_epoch_millis(1_700_000_000_123)),
            scheduling_strategy: Some(SchedulingStrategy::Replica),
            deployment_configuration: Some(DeploymentConfiguration {
                maximum_percent: Some(200),
                minimum_healthy_percent: Some(100),
                ..DeploymentConfiguration::default()
            }),
            events: Some(Vec::new()),
            ..Service::default()
        }
    }

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: Some(key.to_owned()),
            value: Some(value.to_owned()),
        }
    }

    fn failure() -> Failure {
        Failure {
            arn: Some("arn:aws:ecs:us-east-1:000000000000:service/c/gone".to_owned()),
            reason: Some("MISSING".to_owned()),
            detail: None,
        }
    }

    #[test]
    fn spliced_services_encode_exactly_as_the_model_shape_does() {
        let tags = vec![tag("team", "a\"b"), tag("env", "prod")];
        let plain = Arc::new(encode(service("web")).unwrap());
        let answer = DescribedServices {
            services: vec![
                WireService::Plain(Arc::clone(&plain)),
                WireService::tagged(&plain, &tags).unwrap(),
                WireService::tagged(&plain, &[]).unwrap(),
            ],
            failures: vec![failure()],
        };
        let tagged = Service {
            tags: Some(tags),
            ..service("web")
        };
        let untagged_but_asked = Service {
            tags: Some(Vec::new()),
            ..service("web")
        };
        let model = DescribeServicesResponse {
            services: Some(vec![service("web"), tagged, untagged_but_asked]),
            failures: Some(vec![failure()]),
        };
        let answer = serde_json::to_string(&answer).unwrap();
        let model = serde_json::to_string(&model).unwrap();
        assert!(answer.starts_with(r#"{"services":[{"#), "{answer}");
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(parse(&answer), parse(&model));
    }

    #[test]
    fn the_tagless_form_drops_tags_a_stored_service_might_carry() {
        let with_tags = Service {
            tags: Some(vec![tag("k", "v")]),
            ..service("web")
        };
        assert_eq!(
            encode(with_tags).unwrap().get(),
            serde_json::to_string(&service("web")).unwrap()
        );
    }

    #[test]
    fn tags_are_added_to_an_empty_object_without_a_stray_comma() {
        let empty = RawValue::from_string("{}".to_owned()).unwrap();
        let WireService::Tagged(raw) = WireService::tagged(&empty, &[tag("k", "v")]).unwrap()
        else {
            panic!("expected a tagged service");
        };
        assert_eq!(raw.get(), r#"{"tags":[{"key":"k","value":"v"}]}"#);
    }
}
