//! An Express gateway service's route: the host its endpoint names, and the Ingress that
//! sends that host to the ClusterIP Service of its container port (`services`). The
//! Ingress is made only where the cluster has an ingress class: without a controller it
//! would route nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::names::{
    namespace_name, sanitize, service_labels, short_hash, workload_name, ClusterScope,
    SERVICE_NAME_ANNOTATION,
};

/// The host an Express gateway service answers on: `<service>-<hash>.<region>.ecs.localhost`
/// (`.localhost` names resolve to the machine itself, where a local ingress controller
/// listens). The hash over region, cluster and service keeps two services apart.
pub fn host(scope: &ClusterScope<'_>, service: &str) -> String {
    let readable = sanitize(service, 40);
    let hash = short_hash(&["express", scope.region, scope.cluster, service]);
    let label = if readable.is_empty() {
        hash
    } else {
        format!("{readable}-{hash}")
    };
    format!("{label}.{}.ecs.localhost", sanitize(scope.region, 40))
}

/// The Ingress routing `host` to port `port` of the service's ClusterIP Service.
pub fn ingress(scope: &ClusterScope<'_>, service: &str, host: &str, port: i32) -> Ingress {
    let backend = workload_name(service);
    Ingress {
        metadata: ObjectMeta {
            name: Some(backend.clone()),
            namespace: Some(namespace_name(scope)),
            labels: Some(service_labels(scope, service)),
            annotations: Some(BTreeMap::from([(
                SERVICE_NAME_ANNOTATION.to_owned(),
                service.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host: Some(host.to_owned()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: backend,
                                port: Some(ServiceBackendPort {
                                    number: Some(port),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_express_service_is_routed_by_its_own_host_to_its_container_port() {
        let scope = ClusterScope {
            region: "us-east-1",
            cluster: "default",
        };
        let host = host(&scope, "My_Web");
        assert!(host.starts_with("my-web-"), "{host}");
        assert!(host.ends_with(".us-east-1.ecs.localhost"), "{host}");
        let other = super::host(
            &ClusterScope {
                region: "us-east-1",
                cluster: "other",
            },
            "My_Web",
        );
        assert_ne!(host, other);
        let ingress = ingress(&scope, "My_Web", &host, 8080);
        assert_eq!(ingress.metadata.name, Some(workload_name("My_Web")));
        let rule = &ingress.spec.unwrap().rules.unwrap()[0];
        assert_eq!(rule.host.as_deref(), Some(host.as_str()));
        let backend = rule.http.as_ref().unwrap().paths[0]
            .backend
            .service
            .clone()
            .unwrap();
        assert_eq!(backend.name, workload_name("My_Web"));
        assert_eq!(backend.port.unwrap().number, Some(8080));
    }
}
