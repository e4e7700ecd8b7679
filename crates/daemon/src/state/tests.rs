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
