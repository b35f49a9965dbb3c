//! Tests of the pod converter, field by field, and of the ECS docs' WordPress example.

use kubecs_api_models::{
    ContainerCondition, ContainerDependency, EFSVolumeConfiguration, HealthCheck, HostEntry,
    OSFamily, RepositoryCredentials, RuntimePlatform, SystemControl, Volume as EcsVolume,
};

use super::*;
use crate::convert::testing::{container, task};

/// The WordPress and MySQL task definition from the ECS documentation, unmodified.
const WORDPRESS: &str = r#"{
  "containerDefinitions": [
    {
      "name": "wordpress",
      "links": ["mysql"],
      "image": "wordpress",
      "essential": true,
      "portMappings": [{"containerPort": 80, "hostPort": 80}],
      "memory": 500,
      "cpu": 10
    },
    {
      "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
      "name": "mysql",
      "image": "mysql",
      "cpu": 10,
      "memory": 500,
      "essential": true
    }
  ],
  "family": "hello_world"
}"#;

fn wordpress() -> TaskDefinition {
    serde_json::from_str(WORDPRESS).unwrap()
}

fn spec(td: &TaskDefinition) -> PodSpec {
    pod_template(td).unwrap().spec.unwrap()
}

fn refusal(td: &TaskDefinition) -> String {
    pod_template(td).unwrap_err().to_string()
}

#[test]
fn the_wordpress_example_runs_both_containers_in_one_pod() {
    let spec = spec(&wordpress());
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    // mysql starts first: wordpress links to it.
    assert_eq!(names, ["mysql", "wordpress"]);
    assert!(spec.init_containers.is_none());
}

#[test]
fn the_wordpress_link_makes_mysql_resolve_to_localhost() {
    let aliases = spec(&wordpress()).host_aliases.unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].ip, "127.0.0.1");
    assert_eq!(aliases[0].hostnames, Some(vec!["mysql".to_owned()]));
}

#[test]
fn the_wordpress_containers_keep_ports_environment_and_resources() {
    let spec = spec(&wordpress());
    let mysql = &spec.containers[0];
    let wordpress = &spec.containers[1];
    let port = &wordpress.ports.as_ref().unwrap()[0];
    assert_eq!(port.container_port, 80);
    assert_eq!(port.host_port, Some(80));
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    let env = mysql.env.as_ref().unwrap();
    assert_eq!(env[0].name, "MYSQL_ROOT_PASSWORD");
    assert_eq!(env[0].value.as_deref(), Some("password"));
    for c in [mysql, wordpress] {
        let resources = c.resources.as_ref().unwrap();
        let requests = resources.requests.as_ref().unwrap();
        assert_eq!(requests["cpu"].0, "10m");
        assert_eq!(requests["memory"].0, "500Mi");
        assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "500Mi");
    }
}

#[test]
fn the_wordpress_template_is_labelled_with_its_family() {
    let template = pod_template(&wordpress()).unwrap();
    let labels = template.metadata.unwrap().labels.unwrap();
    assert_eq!(labels[FAMILY_LABEL], "hello_world");
    assert_eq!(labels[MANAGED_BY_LABEL], "kubecs");
}

#[test]
fn the_template_carries_family_revision_and_the_task_definition_arn() {
    let meta = pod_template(&task(vec![container("app")]))
        .unwrap()
        .metadata
        .unwrap();
    let labels = meta.labels.unwrap();
    assert_eq!(labels[FAMILY_LABEL], "app");
    assert_eq!(labels[REVISION_LABEL], "3");
    let annotations = meta.annotations.unwrap();
    assert_eq!(annotations[FAMILY_ANNOTATION], "app");
    assert_eq!(
        annotations[TASK_DEFINITION_ARN_ANNOTATION],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/app:3"
    );
}

#[test]
fn pods_get_no_service_links_and_no_service_account_token() {
    let spec = spec(&task(vec![container("app")]));
    assert_eq!(spec.enable_service_links, Some(false));
    assert_eq!(spec.automount_service_account_token, Some(false));
}

#[test]
fn a_link_alias_resolves_as_well_as_the_linked_name() {
    let spec = spec(&task(vec![
        ContainerDefinition {
            links: Some(vec!["MySQL:db".into()]),
            ..container("web")
        },
        container("MySQL"),
    ]));
    let aliases = spec.host_aliases.unwrap();
    assert_eq!(
        aliases[0].hostnames,
        Some(vec!["mysql".to_owned(), "db".to_owned()])
    );
    assert!(spec.containers.iter().any(|c| c.name == "mysql"));
}

#[test]
fn extra_hosts_are_grouped_by_ip() {
    let host = |name: &str, ip: &str| HostEntry {
        hostname: Some(name.into()),
        ip_address: Some(ip.into()),
    };
    let spec = spec(&task(vec![ContainerDefinition {
        extra_hosts: Some(vec![
            host("a.example", "10.0.0.1"),
            host("b.example", "10.0.0.2"),
            host("c.example", "10.0.0.1"),
        ]),
        ..container("app")
    }]));
    let aliases = spec.host_aliases.unwrap();
    assert_eq!(aliases.len(), 2);
    assert_eq!(aliases[0].ip, "10.0.0.1");
    assert_eq!(
        aliases[0].hostnames,
        Some(vec!["a.example".to_owned(), "c.example".to_owned()])
    );
    assert_eq!(aliases[1].hostnames, Some(vec!["b.example".to_owned()]));
}

#[test]
fn an_extra_host_without_an_ip_address_is_refused() {
    let td = task(vec![ContainerDefinition {
        extra_hosts: Some(vec![HostEntry {
            hostname: Some("a".into()),
            ip_address: Some("not-an-ip".into()),
        }]),
        ..container("app")
    }]);
    assert!(refusal(&td).contains("extraHosts"));
}

#[test]
fn dns_servers_set_policy_none_with_the_search_domains() {
    let spec = spec(&task(vec![ContainerDefinition {
        dns_servers: Some(vec!["10.0.0.2".into()]),
        dns_search_domains: Some(vec!["corp.example".into()]),
        ..container("app")
    }]));
    assert_eq!(spec.dns_policy.as_deref(), Some("None"));
    let config = spec.dns_config.unwrap();
    assert_eq!(config.nameservers, Some(vec!["10.0.0.2".to_owned()]));
    assert_eq!(config.searches, Some(vec!["corp.example".to_owned()]));
}

#[test]
fn search_domains_alone_keep_cluster_dns() {
    let spec = spec(&task(vec![ContainerDefinition {
        dns_search_domains: Some(vec!["corp.example".into()]),
        ..container("app")
    }]));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.dns_config.unwrap().nameservers, None);
}

#[test]
fn more_than_three_dns_servers_are_refused() {
    let td = task(vec![ContainerDefinition {
        dns_servers: Some(vec![
            "10.0.0.1".into(),
            "10.0.0.2".into(),
            "10.0.0.3".into(),
            "10.0.0.4".into(),
        ]),
        ..container("app")
    }]);
    assert!(refusal(&td).contains("at most 3"));
}

#[test]
fn a_container_hostname_is_the_pod_hostname() {
    let spec = spec(&task(vec![ContainerDefinition {
        hostname: Some("web-1".into()),
        ..container("app")
    }]));
    assert_eq!(spec.hostname.as_deref(), Some("web-1"));
}

#[test]
fn two_different_hostnames_are_refused() {
    let td = task(vec![
        ContainerDefinition {
            hostname: Some("a".into()),
            ..container("one")
        },
        ContainerDefinition {
            hostname: Some("b".into()),
            ..container("two")
        },
    ]);
    assert!(refusal(&td).contains("one hostname"));
}

#[test]
fn the_grace_period_is_the_longest_stop_timeout_or_thirty_seconds() {
    assert_eq!(
        spec(&task(vec![container("a")])).termination_grace_period_seconds,
        Some(30)
    );
    let spec = spec(&task(vec![
        ContainerDefinition {
            stop_timeout: Some(10),
            ..container("a")
        },
        ContainerDefinition {
            stop_timeout: Some(90),
            ..container("b")
        },
    ]));
    assert_eq!(spec.termination_grace_period_seconds, Some(90));
}

#[test]
fn docker_labels_become_annotations_named_for_their_container() {
    let meta = pod_template(&task(vec![ContainerDefinition {
        docker_labels: Some(BTreeMap::from([
            ("com.example.team".to_owned(), "payments".to_owned()),
            ("weird key/with slash".to_owned(), "x".to_owned()),
        ])),
        ..container("app")
    }]))
    .unwrap()
    .metadata
    .unwrap();
    let annotations = meta.annotations.unwrap();
    assert_eq!(
        annotations["app.docker-label.ecs.kubecs.io/com.example.team"],
        "payments"
    );
    let hashed = annotations
        .keys()
        .find(|k| k.starts_with("app.docker-label.ecs.kubecs.io/weird-key-with-slash-"))
        .unwrap();
    assert_eq!(annotations[hashed], "x");
}

#[test]
fn host_network_mode_puts_the_pod_on_the_host_network() {
    let td = TaskDefinition {
        network_mode: Some(NetworkMode::Host),
        ..task(vec![container("app")])
    };
    let spec = spec(&td);
    assert_eq!(spec.host_network, Some(true));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
}

#[test]
fn links_on_the_host_network_are_refused() {
    let td = TaskDefinition {
        network_mode: Some(NetworkMode::Host),
        ..task(vec![
            ContainerDefinition {
                links: Some(vec!["db".into()]),
                ..container("app")
            },
            container("db"),
        ])
    };
    assert!(refusal(&td).contains("host network"));
}

#[test]
fn awsvpc_and_bridge_modes_use_the_pod_network() {
    for mode in [NetworkMode::Awsvpc, NetworkMode::Bridge] {
        let td = TaskDefinition {
            network_mode: Some(mode),
            ..task(vec![container("app")])
        };
        assert_eq!(spec(&td).host_network, None);
    }
}

#[test]
fn network_mode_none_is_refused() {
    let td = TaskDefinition {
        network_mode: Some(NetworkMode::None),
        ..task(vec![container("app")])
    };
    assert!(refusal(&td).contains("network mode none"));
}

#[test]
fn pid_and_ipc_modes_map_to_host_namespaces_or_a_shared_process_namespace() {
    let host = spec(&TaskDefinition {
        pid_mode: Some(PidMode::Host),
        ipc_mode: Some(IpcMode::Host),
        ..task(vec![container("app")])
    });
    assert_eq!(host.host_pid, Some(true));
    assert_eq!(host.host_ipc, Some(true));
    let shared = spec(&TaskDefinition {
        pid_mode: Some(PidMode::Task),
        ..task(vec![container("app")])
    });
    assert_eq!(shared.share_process_namespace, Some(true));
    assert_eq!(shared.host_pid, None);
}

#[test]
fn system_controls_become_pod_sysctls_and_must_agree() {
    let control = |value: &str| SystemControl {
        namespace: Some("net.core.somaxconn".into()),
        value: Some(value.into()),
    };
    let spec = spec(&task(vec![
        ContainerDefinition {
            system_controls: Some(vec![control("1024")]),
            ..container("a")
        },
        ContainerDefinition {
            system_controls: Some(vec![control("1024")]),
            ..container("b")
        },
    ]));
    let sysctls = spec.security_context.unwrap().sysctls.unwrap();
    assert_eq!(
        sysctls,
        vec![Sysctl {
            name: "net.core.somaxconn".into(),
            value: "1024".into()
        }]
    );
    let td = task(vec![
        ContainerDefinition {
            system_controls: Some(vec![control("1024")]),
            ..container("a")
        },
        ContainerDefinition {
            system_controls: Some(vec![control("2048")]),
            ..container("b")
        },
    ]);
    assert!(refusal(&td).contains("systemControls"));
}

#[test]
fn repository_credentials_become_image_pull_secrets() {
    let spec = spec(&task(vec![ContainerDefinition {
        repository_credentials: Some(RepositoryCredentials {
            credentials_parameter: Some(
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:registry".into(),
            ),
        }),
        ..container("app")
    }]));
    assert_eq!(
        spec.image_pull_secrets,
        Some(vec![LocalObjectReference {
            name: "registry".into()
        }])
    );
}

#[test]
fn the_cpu_architecture_selects_nodes() {
    let spec = spec(&TaskDefinition {
        runtime_platform: Some(RuntimePlatform {
            cpu_architecture: Some(CPUArchitecture::Arm64),
            operating_system_family: Some(OSFamily::Linux),
        }),
        ..task(vec![container("app")])
    });
    assert_eq!(spec.node_selector.unwrap()["kubernetes.io/arch"], "arm64");
}

#[test]
fn a_windows_task_definition_is_refused() {
    let td = TaskDefinition {
        runtime_platform: Some(RuntimePlatform {
            cpu_architecture: None,
            operating_system_family: Some(OSFamily::WindowsServer2019Core),
        }),
        ..task(vec![container("app")])
    };
    let err = pod_template(&td).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The operating system family WINDOWS_SERVER_2019_CORE is not supported: kubecs runs Linux containers only."
    );
    assert_eq!(
        err.error_code(),
        kubecs_api_models::ErrorCode::ClientException
    );
}

#[test]
fn an_efs_volume_is_refused() {
    let td = TaskDefinition {
        volumes: Some(vec![EcsVolume {
            name: Some("shared".into()),
            efs_volume_configuration: Some(EFSVolumeConfiguration::default()),
            ..EcsVolume::default()
        }]),
        ..task(vec![container("app")])
    };
    assert!(refusal(&td).starts_with("Invalid setting for volume 'shared'. EFS volumes"));
}

#[test]
fn container_names_are_sanitized_and_collisions_refused() {
    let spec = spec(&task(vec![container("Web_App")]));
    assert_eq!(spec.containers[0].name, "web-app");
    let td = task(vec![container("Web_App"), container("web-app")]);
    assert!(refusal(&td).contains("both become the Kubernetes container name 'web-app'"));
}

#[test]
fn a_container_without_an_image_is_refused() {
    let td = task(vec![ContainerDefinition {
        image: None,
        ..container("app")
    }]);
    assert!(refusal(&td).contains("Container.image"));
}

#[test]
fn a_completing_dependency_runs_as_an_init_container_without_a_probe() {
    let spec = spec(&task(vec![
        ContainerDefinition {
            depends_on: Some(vec![ContainerDependency {
                container_name: Some("migrate".into()),
                condition: Some(ContainerCondition::Success),
            }]),
            ..container("app")
        },
        ContainerDefinition {
            essential: Some(false),
            health_check: Some(HealthCheck {
                command: Some(vec!["CMD".into(), "true".into()]),
                ..HealthCheck::default()
            }),
            ..container("migrate")
        },
    ]));
    let init = spec.init_containers.unwrap();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, "migrate");
    assert!(init[0].readiness_probe.is_none());
    assert_eq!(spec.containers.len(), 1);
    assert_eq!(spec.containers[0].name, "app");
}

#[test]
fn a_health_check_becomes_the_readiness_probe() {
    let spec = spec(&task(vec![ContainerDefinition {
        health_check: Some(HealthCheck {
            command: Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()]),
            ..HealthCheck::default()
        }),
        ..container("app")
    }]));
    let probe = spec.containers[0].readiness_probe.clone().unwrap();
    assert_eq!(
        probe.exec.unwrap().command.unwrap(),
        ["/bin/sh", "-c", "curl -f localhost"]
    );
}

#[test]
fn an_app_mesh_proxy_configuration_is_refused() {
    let td = TaskDefinition {
        proxy_configuration: Some(Default::default()),
        ..task(vec![container("app")])
    };
    assert!(refusal(&td).contains("proxyConfiguration"));
}
