//! Observed-status transitions of an ECS service, as pure functions on the wire shape:
//! the reconciler computes them and writes them with the store's compare-and-set on the
//! generation it acted on.

use kubecs_api_models::{Service, ServiceEvent, Timestamp};

/// ECS keeps the newest 100 events of a service.
pub const MAX_EVENTS: usize = 100;

/// Adds an event, newest first, dropping the oldest beyond [`MAX_EVENTS`].
pub fn push_event(service: &mut Service, now: Timestamp, message: String) {
    let events = service.events.get_or_insert_with(Vec::new);
    events.insert(
        0,
        ServiceEvent {
            id: Some(uuid::Uuid::new_v4().to_string()),
            created_at: Some(now),
            message: Some(message),
        },
    );
    events.truncate(MAX_EVENTS);
}

/// A DRAINING service whose workload is gone becomes INACTIVE: no deployments, no
/// tasks. (ECS emits no service event for this, so neither do we.) Any other service is
/// returned unchanged.
pub fn complete_drain(service: &Service) -> Service {
    let mut done = service.clone();
    if done.status.as_deref() != Some("DRAINING") {
        return done;
    }
    done.status = Some("INACTIVE".to_owned());
    done.desired_count = Some(0);
    done.running_count = Some(0);
    done.pending_count = Some(0);
    done.deployments = Some(Vec::new());
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_newest_first_and_capped_at_one_hundred() {
        let mut service = Service::default();
        for i in 0..150 {
            push_event(
                &mut service,
                Timestamp::from_epoch_millis(i),
                format!("e{i}"),
            );
        }
        let events = service.events.unwrap();
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0].message.as_deref(), Some("e149"));
        assert_eq!(events[99].message.as_deref(), Some("e50"));
    }

    #[test]
    fn only_a_draining_service_completes_its_drain() {
        let draining = Service {
            service_name: Some("web".into()),
            status: Some("DRAINING".into()),
            desired_count: Some(0),
            ..Service::default()
        };
        let done = complete_drain(&draining);
        assert_eq!(done.status.as_deref(), Some("INACTIVE"));
        assert_eq!(done.deployments, Some(vec![]));
        let active = Service {
            status: Some("ACTIVE".into()),
            ..Service::default()
        };
        assert_eq!(complete_drain(&active), active);
    }
}
