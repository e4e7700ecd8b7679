use super::*;

fn process(pid: u32, start_time: u64) -> CallerIdentity {
    CallerIdentity {
        pid,
        ppid: 1,
        start_time,
        executable: Some("/usr/bin/latchkey".into()),
        executable_file: None,
        same_mount_namespace: true,
        flatpak_app_id: None,
        snap_name: None,
        systemd_unit: None,
        cgroup_path: None,
    }
}

#[test]
fn a_registered_prompt_serves_its_processes_not_their_pids() {
    let agent = Agent {
        name: OwnedUniqueName::try_from(":1.7").unwrap(),
        serves: vec![(4242, 1000), (4200, 900)],
    };
    assert!(agent.serves(&process(4242, 1000)), "the prompt itself");
    assert!(agent.serves(&process(4200, 900)), "its parent");
    // The parent exited and another process got its PID: not served.
    assert!(!agent.serves(&process(4200, 5000)));
    assert!(!agent.serves(&process(4243, 1000)));
}

/// Callers that left are remembered by unique name (a bus never gives one twice), the latest
/// `DEPARTED_KEPT` of them.
#[test]
fn departed_callers_are_remembered_within_a_bound() {
    let mut departed = Departed::default();
    assert!(!departed.contains(":1.9"));
    departed.remember(":1.9");
    departed.remember(":1.9");
    assert!(departed.contains(":1.9"));
    for i in 0..DEPARTED_KEPT {
        departed.remember(&format!(":2.{i}"));
    }
    assert!(!departed.contains(":1.9"), "the oldest is forgotten");
    assert!(departed.contains(":2.0") && departed.contains(&format!(":2.{}", DEPARTED_KEPT - 1)));
    assert_eq!(departed.order.len(), DEPARTED_KEPT);
    assert_eq!(departed.names.len(), DEPARTED_KEPT);
}
