//! Tests of the container converter, field by field.

use kubecs_api_models::{
    EnvironmentFile, KernelCapabilities, KeyValuePair, LinuxParameters, PortMapping, Secret,
};

use super::*;

fn base(name: &str) -> ContainerDefinition {
    ContainerDefinition {
        name: Some(name.into()),
        image: Some("nginx:1.25".into()),
        ..ContainerDefinition::default()
    }
}

fn convert(c: &ContainerDefinition) -> Result<ConvertedContainer, Unsupported> {
    convert_with(c, Network::Bridge)
}

fn convert_with(
    c: &ContainerDefinition,
    network: Network,
) -> Result<ConvertedContainer, Unsupported> {
    let td = TaskDefinition {
        container_definitions: Some(vec![c.clone()]),
        ..TaskDefinition::default()
    };
    convert_container(&td, c, "web", network, None, false)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_image_is_kept_and_pulled_if_not_present() {
    let k = convert(&base("web")).unwrap().container;
    assert_eq!(k.name, "web");
    assert_eq!(k.image.as_deref(), Some("nginx:1.25"));
    assert_eq!(k.image_pull_policy.as_deref(), Some("IfNotPresent"));
}

#[test]
fn entry_point_becomes_command_and_command_becomes_args() {
    let k = convert(&ContainerDefinition {
        entry_point: Some(strings(&["/bin/sh", "-c"])),
        command: Some(strings(&["echo hi"])),
        ..base("web")
    })
    .unwrap()
    .container;
    assert_eq!(k.command, Some(strings(&["/bin/sh", "-c"])));
    assert_eq!(k.args, Some(strings(&["echo hi"])));
}

#[test]
fn command_alone_stays_args_so_the_image_entrypoint_still_runs() {
    let k = convert(&ContainerDefinition {
        command: Some(strings(&["--port", "80"])),
        ..base("web")
    })
    .unwrap()
    .container;
    assert_eq!(k.command, None);
    assert_eq!(k.args, Some(strings(&["--port", "80"])));
}

#[test]
fn environment_keeps_its_order_and_secrets_follow_from_secrets() {
    let k = convert(&ContainerDefinition {
        environment: Some(vec![
            KeyValuePair {
                name: Some("Z".into()),
                value: Some("1".into()),
            },
            KeyValuePair {
                name: Some("A".into()),
                value: Some("2".into()),
            },
        ]),
        secrets: Some(vec![Secret {
            name: Some("DB_PASSWORD".into()),
            value_from: Some("db-password".into()),
        }]),
        ..base("web")
    })
    .unwrap()
    .container;
    let env = k.env.unwrap();
    assert_eq!(env[0].name, "Z");
    assert_eq!(env[0].value.as_deref(), Some("1"));
    assert_eq!(env[1].name, "A");
    assert_eq!(env[2].name, "DB_PASSWORD");
    let from = env[2].value_from.clone().unwrap().secret_key_ref.unwrap();
    assert_eq!(from.name, "db-password");
    assert_eq!(from.key, "value");
}

#[test]
fn a_secret_without_value_from_is_refused() {
    assert!(convert(&ContainerDefinition {
        secrets: Some(vec![Secret {
            name: Some("X".into()),
            value_from: None
        }]),
        ..base("web")
    })
    .is_err());
}

#[test]
fn environment_files_become_config_maps_in_env_from() {
    let k = convert(&ContainerDefinition {
        environment_files: Some(vec![EnvironmentFile {
            r#type: Some(EnvironmentFileType::S3),
            value: Some("arn:aws:s3:::bucket/app.env".into()),
        }]),
        ..base("web")
    })
    .unwrap()
    .container;
    let name = k.env_from.unwrap()[0].config_map_ref.clone().unwrap().name;
    assert!(name.starts_with("bucket-app-env-"), "{name}");
}

#[test]
fn every_port_has_an_explicit_protocol() {
    let k = convert(&ContainerDefinition {
        port_mappings: Some(vec![
            PortMapping {
                container_port: Some(80),
                ..PortMapping::default()
            },
            PortMapping {
                container_port: Some(53),
                protocol: Some(TransportProtocol::Udp),
                ..PortMapping::default()
            },
        ]),
        ..base("web")
    })
    .unwrap()
    .container;
    let ports = k.ports.unwrap();
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(ports[1].protocol.as_deref(), Some("UDP"));
    assert_eq!(ports[1].container_port, 53);
}

#[test]
fn host_port_zero_or_absent_means_no_host_port() {
    let k = convert(&ContainerDefinition {
        port_mappings: Some(vec![
            PortMapping {
                container_port: Some(80),
                host_port: Some(0),
                ..PortMapping::default()
            },
            PortMapping {
                container_port: Some(81),
                ..PortMapping::default()
            },
            PortMapping {
                container_port: Some(82),
                host_port: Some(8082),
                ..PortMapping::default()
            },
        ]),
        ..base("web")
    })
    .unwrap()
    .container;
    let ports = k.ports.unwrap();
    assert_eq!(ports[0].host_port, None);
    assert_eq!(ports[1].host_port, None);
    assert_eq!(ports[2].host_port, Some(8082));
}

#[test]
fn awsvpc_has_no_host_ports_and_host_mode_makes_every_port_one() {
    let c = ContainerDefinition {
        port_mappings: Some(vec![PortMapping {
            container_port: Some(80),
            host_port: Some(80),
            ..PortMapping::default()
        }]),
        ..base("web")
    };
    let awsvpc = convert_with(&c, Network::Awsvpc).unwrap().container;
    assert_eq!(awsvpc.ports.unwrap()[0].host_port, None);
    let host = convert_with(&c, Network::Host).unwrap().container;
    assert_eq!(host.ports.unwrap()[0].host_port, Some(80));
}

#[test]
fn a_port_name_is_kept_only_when_kubernetes_accepts_it() {
    let k = convert(&ContainerDefinition {
        port_mappings: Some(vec![
            PortMapping {
                container_port: Some(80),
                name: Some("http".into()),
                ..PortMapping::default()
            },
            PortMapping {
                container_port: Some(81),
                name: Some("web_admin".into()),
                ..PortMapping::default()
            },
        ]),
        ..base("web")
    })
    .unwrap()
    .container;
    let ports = k.ports.unwrap();
    assert_eq!(ports[0].name.as_deref(), Some("http"));
    assert_eq!(ports[1].name, None);
}

#[test]
fn a_port_range_alone_adds_no_port() {
    let k = convert(&ContainerDefinition {
        port_mappings: Some(vec![PortMapping {
            container_port_range: Some("8000-8010".into()),
            ..PortMapping::default()
        }]),
        ..base("web")
    })
    .unwrap()
    .container;
    assert_eq!(k.ports, None);
}

#[test]
fn user_privileged_read_only_root_and_capabilities_make_the_security_context() {
    let k = convert(&ContainerDefinition {
        user: Some("1000:2000".into()),
        privileged: Some(true),
        readonly_root_filesystem: Some(true),
        linux_parameters: Some(LinuxParameters {
            capabilities: Some(KernelCapabilities {
                add: Some(strings(&["NET_ADMIN"])),
                drop: Some(strings(&["ALL"])),
            }),
            ..LinuxParameters::default()
        }),
        ..base("web")
    })
    .unwrap()
    .container;
    let sc = k.security_context.unwrap();
    assert_eq!(sc.run_as_user, Some(1000));
    assert_eq!(sc.run_as_group, Some(2000));
    assert_eq!(sc.privileged, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.add, Some(strings(&["NET_ADMIN"])));
    assert_eq!(caps.drop, Some(strings(&["ALL"])));
}

#[test]
fn a_named_user_other_than_root_is_refused() {
    assert!(convert(&ContainerDefinition {
        user: Some("nginx".into()),
        ..base("web")
    })
    .is_err());
    let root = convert(&ContainerDefinition {
        user: Some("root".into()),
        ..base("web")
    })
    .unwrap()
    .container;
    assert_eq!(root.security_context.unwrap().run_as_user, Some(0));
}

#[test]
fn a_container_without_security_settings_has_no_security_context() {
    assert!(convert(&base("web"))
        .unwrap()
        .container
        .security_context
        .is_none());
}

#[test]
fn security_options_map_to_no_privilege_escalation_selinux_and_apparmor() {
    let converted = convert(&ContainerDefinition {
        docker_security_options: Some(strings(&[
            "no-new-privileges",
            "label:type:container_t",
            "apparmor:my-profile",
        ])),
        ..base("web")
    })
    .unwrap();
    let sc = converted.container.security_context.unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.se_linux_options.unwrap().type_.as_deref(),
        Some("container_t")
    );
    assert_eq!(
        converted.annotations["container.apparmor.security.beta.kubernetes.io/web"],
        "localhost/my-profile"
    );
}

#[test]
fn an_unknown_security_option_is_refused() {
    assert!(convert(&ContainerDefinition {
        docker_security_options: Some(strings(&["credentialspec:file://x.json"])),
        ..base("web")
    })
    .is_err());
}

#[test]
fn working_directory_interactive_and_pseudo_terminal_map_directly() {
    let k = convert(&ContainerDefinition {
        working_directory: Some("/srv".into()),
        interactive: Some(true),
        pseudo_terminal: Some(true),
        ..base("web")
    })
    .unwrap()
    .container;
    assert_eq!(k.working_dir.as_deref(), Some("/srv"));
    assert_eq!(k.stdin, Some(true));
    assert_eq!(k.tty, Some(true));
}

#[test]
fn an_environment_name_kubernetes_rejects_is_refused() {
    let err = convert(&ContainerDefinition {
        environment: Some(vec![KeyValuePair {
            name: Some("1BAD NAME".into()),
            value: Some("x".into()),
        }]),
        ..base("web")
    })
    .unwrap_err();
    assert!(err.to_string().contains("'1BAD NAME'"), "{err}");
    assert!(is_env_var_name("JAVA_OPTS"));
    assert!(is_env_var_name("my.setting-1"));
}

#[test]
fn no_new_privileges_with_privileged_is_refused() {
    assert!(convert(&ContainerDefinition {
        privileged: Some(true),
        docker_security_options: Some(strings(&["no-new-privileges"])),
        ..base("web")
    })
    .is_err());
}

#[test]
fn a_tmpfs_over_a_mount_point_is_refused() {
    use kubecs_api_models::{MountPoint, Tmpfs, Volume as EcsVolume};
    let c = ContainerDefinition {
        mount_points: Some(vec![MountPoint {
            source_volume: Some("data".into()),
            container_path: Some("/run".into()),
            read_only: None,
        }]),
        linux_parameters: Some(LinuxParameters {
            tmpfs: Some(vec![Tmpfs {
                container_path: Some("/run".into()),
                size: Some(16),
                mount_options: None,
            }]),
            ..LinuxParameters::default()
        }),
        ..base("web")
    };
    let td = TaskDefinition {
        volumes: Some(vec![EcsVolume {
            name: Some("data".into()),
            ..EcsVolume::default()
        }]),
        container_definitions: Some(vec![c.clone()]),
        ..TaskDefinition::default()
    };
    let err = convert_container(&td, &c, "web", Network::Bridge, None, false).unwrap_err();
    assert!(err.to_string().contains("mounted twice"), "{err}");
}

#[test]
fn disable_networking_and_devices_are_refused() {
    assert!(convert(&ContainerDefinition {
        disable_networking: Some(true),
        ..base("web")
    })
    .is_err());
    assert!(convert(&ContainerDefinition {
        linux_parameters: Some(LinuxParameters {
            devices: Some(vec![Default::default()]),
            ..LinuxParameters::default()
        }),
        ..base("web")
    })
    .is_err());
}
