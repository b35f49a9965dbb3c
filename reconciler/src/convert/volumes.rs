//! Task definition volumes and container mounts as pod volumes and volume mounts.
//!
//! - A `host` volume with a `sourcePath` is a `hostPath` volume (no type, so nothing is
//!   checked or created beyond what the runtime does, as with Docker's bind mounts).
//! - A volume with no configuration, a `host` without `sourcePath` (Docker picks a path
//!   that lives as long as the task) and a task-scoped `local` Docker volume are `emptyDir`
//!   volumes: all live exactly as long as the task (pod). Other kinds are refused by
//!   validation (EFS, FSx, S3 Files, shared Docker volumes, other drivers, driver options,
//!   volumes configured at launch).
//! - `mountPoints` are volume mounts (`readOnly` kept); `volumesFrom` copies the source
//!   container's mounts (read-only when either says so). A container's own mount of a path
//!   wins over one it copies.
//! - `linuxParameters.tmpfs` and `linuxParameters.sharedMemorySize` are memory-backed
//!   `emptyDir`s with a size limit, mounted at the tmpfs path and at `/dev/shm`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, HostPathVolumeSource, Volume, VolumeMount};
use kubecs_api_models::{ContainerDefinition, TaskDefinition};

use super::names::{short_hash, volume_name};
use super::resources::memory_quantity;
use super::validate::Unsupported;

/// The pod volumes for the task definition's `volumes`.
pub fn task_volumes(td: &TaskDefinition) -> Vec<Volume> {
    td.volumes
        .iter()
        .flatten()
        .map(|v| {
            let name = volume_name(v.name.as_deref().unwrap_or_default());
            let host_path = v
                .host
                .as_ref()
                .and_then(|h| h.source_path.as_deref())
                .filter(|p| !p.is_empty());
            match host_path {
                Some(path) => Volume {
                    name,
                    host_path: Some(HostPathVolumeSource {
                        path: path.to_owned(),
                        type_: None,
                    }),
                    ..Volume::default()
                },
                None => Volume {
                    name,
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Volume::default()
                },
            }
        })
        .collect()
}

/// A container's mounts of task volumes: its `mountPoints`, then what `volumesFrom`
/// copies.
pub fn task_volume_mounts(
    td: &TaskDefinition,
    container: &ContainerDefinition,
) -> Result<Vec<VolumeMount>, Unsupported> {
    let mut mounts = Vec::new();
    let mut paths = BTreeSet::new();
    collect_mounts(td, container, false, &mut mounts, &mut paths, 0)?;
    Ok(mounts)
}

fn collect_mounts(
    td: &TaskDefinition,
    container: &ContainerDefinition,
    force_read_only: bool,
    mounts: &mut Vec<VolumeMount>,
    paths: &mut BTreeSet<String>,
    depth: usize,
) -> Result<(), Unsupported> {
    let name = container.name.as_deref().unwrap_or_default();
    let volumes: BTreeSet<&str> = td
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.name.as_deref())
        .collect();
    for mp in container.mount_points.iter().flatten() {
        let source = mp.source_volume.as_deref().unwrap_or_default();
        if !volumes.contains(source) {
            return Err(Unsupported::container(
                name,
                "mountPoints.sourceVolume",
                format!("there is no volume named '{source}' in the task definition."),
            ));
        }
        let path = mp.container_path.as_deref().unwrap_or_default();
        if path.is_empty() {
            return Err(Unsupported::container(
                name,
                "mountPoints.containerPath",
                "the mount point needs a container path.",
            ));
        }
        if paths.insert(path.to_owned()) {
            let read_only = force_read_only || mp.read_only == Some(true);
            mounts.push(VolumeMount {
                name: volume_name(source),
                mount_path: path.to_owned(),
                read_only: read_only.then_some(true),
                ..VolumeMount::default()
            });
        }
    }
    let containers = td.container_definitions.as_deref().unwrap_or_default();
    for from in container.volumes_from.iter().flatten() {
        let source = from.source_container.as_deref().unwrap_or_default();
        let Some(source_container) = containers
            .iter()
            .find(|c| c.name.as_deref() == Some(source) && source != name)
        else {
            return Err(Unsupported::container(
                name,
                "volumesFrom.sourceContainer",
                format!("there is no other container named '{source}' in the task definition."),
            ));
        };
        if depth > containers.len() {
            return Err(Unsupported::container(
                name,
                "volumesFrom",
                "the containers' volumesFrom form a cycle.",
            ));
        }
        let read_only = force_read_only || from.read_only == Some(true);
        collect_mounts(td, source_container, read_only, mounts, paths, depth + 1)?;
    }
    Ok(())
}

/// A container's memory-backed volumes (tmpfs mounts and `/dev/shm`) and their mounts.
pub fn memory_volumes(
    container: &ContainerDefinition,
    k8s_name: &str,
) -> Result<(Vec<Volume>, Vec<VolumeMount>), Unsupported> {
    let name = container.name.as_deref().unwrap_or_default();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let Some(linux) = &container.linux_parameters else {
        return Ok((volumes, mounts));
    };
    let mut add = |kind: &str, path: &str, mib: i32| {
        let volume = format!("{kind}-{}", short_hash(&[kind, k8s_name, path]));
        volumes.push(Volume {
            name: volume.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(memory_quantity(i64::from(mib))),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: volume,
            mount_path: path.to_owned(),
            ..VolumeMount::default()
        });
    };
    for tmpfs in linux.tmpfs.iter().flatten() {
        let path = tmpfs.container_path.as_deref().unwrap_or_default();
        let size = tmpfs.size.unwrap_or(0);
        if path.is_empty() || size <= 0 {
            return Err(Unsupported::container(
                name,
                "linuxParameters.tmpfs",
                "a tmpfs mount needs a container path and a size.",
            ));
        }
        add("tmpfs", path, size);
    }
    if let Some(size) = linux.shared_memory_size.filter(|s| *s > 0) {
        add("shm", "/dev/shm", size);
    }
    Ok((volumes, mounts))
}

#[cfg(test)]
mod tests {
    use kubecs_api_models::{
        DockerVolumeConfiguration, HostVolumeProperties, LinuxParameters, MountPoint, Tmpfs,
        Volume as EcsVolume, VolumeFrom,
    };

    use super::*;
    use crate::convert::testing::container;

    fn volume(name: &str) -> EcsVolume {
        EcsVolume {
            name: Some(name.into()),
            ..EcsVolume::default()
        }
    }

    fn mount(source: &str, path: &str, read_only: Option<bool>) -> MountPoint {
        MountPoint {
            source_volume: Some(source.into()),
            container_path: Some(path.into()),
            read_only,
        }
    }

    #[test]
    fn a_host_volume_with_a_source_path_is_a_host_path() {
        let td = TaskDefinition {
            volumes: Some(vec![EcsVolume {
                host: Some(HostVolumeProperties {
                    source_path: Some("/var/log".into()),
                }),
                ..volume("logs")
            }]),
            ..TaskDefinition::default()
        };
        let v = &task_volumes(&td)[0];
        assert_eq!(v.name, "logs");
        assert_eq!(v.host_path.as_ref().unwrap().path, "/var/log");
        assert!(v.empty_dir.is_none());
    }

    #[test]
    fn bare_host_and_task_docker_volumes_are_empty_dirs() {
        let td = TaskDefinition {
            volumes: Some(vec![
                volume("scratch"),
                EcsVolume {
                    host: Some(HostVolumeProperties::default()),
                    ..volume("docker-picked")
                },
                EcsVolume {
                    docker_volume_configuration: Some(DockerVolumeConfiguration {
                        driver: Some("local".into()),
                        ..DockerVolumeConfiguration::default()
                    }),
                    ..volume("Task_Scoped")
                },
            ]),
            ..TaskDefinition::default()
        };
        let volumes = task_volumes(&td);
        assert!(volumes
            .iter()
            .all(|v| v.empty_dir.is_some() && v.host_path.is_none()));
        assert!(volumes[2].name.starts_with("task-scoped-"));
    }

    #[test]
    fn mount_points_keep_their_path_and_read_only() {
        let app = ContainerDefinition {
            mount_points: Some(vec![
                mount("data", "/data", Some(true)),
                mount("data", "/scratch", Some(false)),
            ]),
            ..container("app")
        };
        let td = TaskDefinition {
            volumes: Some(vec![volume("data")]),
            container_definitions: Some(vec![app.clone()]),
            ..TaskDefinition::default()
        };
        let mounts = task_volume_mounts(&td, &app).unwrap();
        assert_eq!(mounts[0].mount_path, "/data");
        assert_eq!(mounts[0].read_only, Some(true));
        assert_eq!(mounts[1].mount_path, "/scratch");
        assert_eq!(mounts[1].read_only, None);
    }

    #[test]
    fn a_mount_of_an_unknown_volume_is_refused() {
        let app = ContainerDefinition {
            mount_points: Some(vec![mount("ghost", "/x", None)]),
            ..container("app")
        };
        let td = TaskDefinition {
            container_definitions: Some(vec![app.clone()]),
            ..TaskDefinition::default()
        };
        assert!(task_volume_mounts(&td, &app).is_err());
    }

    #[test]
    fn volumes_from_copies_the_source_mounts_read_only_when_asked() {
        let source = ContainerDefinition {
            mount_points: Some(vec![mount("data", "/data", None)]),
            ..container("source")
        };
        let reader = ContainerDefinition {
            volumes_from: Some(vec![VolumeFrom {
                source_container: Some("source".into()),
                read_only: Some(true),
            }]),
            ..container("reader")
        };
        let td = TaskDefinition {
            volumes: Some(vec![volume("data")]),
            container_definitions: Some(vec![source, reader.clone()]),
            ..TaskDefinition::default()
        };
        let mounts = task_volume_mounts(&td, &reader).unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].name, "data");
        assert_eq!(mounts[0].read_only, Some(true));
    }

    #[test]
    fn tmpfs_and_shared_memory_are_memory_backed_empty_dirs() {
        let app = ContainerDefinition {
            linux_parameters: Some(LinuxParameters {
                tmpfs: Some(vec![Tmpfs {
                    container_path: Some("/run".into()),
                    size: Some(64),
                    mount_options: None,
                }]),
                shared_memory_size: Some(256),
                ..LinuxParameters::default()
            }),
            ..container("app")
        };
        let (volumes, mounts) = memory_volumes(&app, "app").unwrap();
        assert_eq!(volumes.len(), 2);
        let tmpfs = volumes[0].empty_dir.as_ref().unwrap();
        assert_eq!(tmpfs.medium.as_deref(), Some("Memory"));
        assert_eq!(tmpfs.size_limit.as_ref().unwrap().0, "64Mi");
        assert_eq!(mounts[0].mount_path, "/run");
        assert_eq!(mounts[1].mount_path, "/dev/shm");
        assert_eq!(
            volumes[1]
                .empty_dir
                .as_ref()
                .unwrap()
                .size_limit
                .as_ref()
                .unwrap()
                .0,
            "256Mi"
        );
    }
}
