use super::*;

const BUS: u32 = 100;
const BUS_EXE: FileId = (1, 11);
const SYSTEMD_EXE: FileId = (1, 22);
const OTHER_EXE: FileId = (1, 33);

fn starters() -> Starters {
    Starters {
        bus: Some(BUS),
        bus_exe: Some(BUS_EXE),
        systemd_exes: vec![SYSTEMD_EXE],
    }
}

fn lineage(parent: u32, grandparent: u32, parent_exe: FileId) -> Lineage {
    Lineage {
        unit: Some("session-2.scope".into()),
        parent,
        grandparent,
        parent_exe: Some(parent_exe),
        parent_unit: Some("session-2.scope".into()),
    }
}

#[test]
fn the_bus_as_parent_or_through_its_activation_helper() {
    assert!(lineage(BUS, 1, BUS_EXE).started_by(&starters()));
    // The helper: a fork of the bus (same executable) whose parent is the bus.
    assert!(lineage(200, BUS, BUS_EXE).started_by(&starters()));
    // A child of some other child of the bus, running another program.
    assert!(!lineage(200, BUS, OTHER_EXE).started_by(&starters()));
    // Another dbus-daemon (a bus the user started) is not the helper of this one.
    assert!(!lineage(200, 300, BUS_EXE).started_by(&starters()));
    // Started by hand: its parent is a shell or a test.
    assert!(!lineage(4000, 3000, OTHER_EXE).started_by(&starters()));
    // An orphan of dbus-daemon 1.14 without systemd: reparented to PID 1.
    assert!(!lineage(1, 0, OTHER_EXE).started_by(&starters()));
    // The bus's PID unknown: only systemd counts.
    let unknown = Starters {
        bus: None,
        ..starters()
    };
    assert!(!lineage(BUS, 1, BUS_EXE).started_by(&unknown));
}

#[test]
fn systemd_user_starts_a_service_in_a_unit_of_its_own() {
    let service = Lineage {
        unit: Some("latchkeyd.service".into()),
        parent: 900,
        grandparent: 1,
        parent_exe: Some(SYSTEMD_EXE),
        parent_unit: Some("init.scope".into()),
    };
    assert!(service.started_by(&starters()));
    // An orphan reparented to systemd --user stays in the scope it ran in.
    let orphan = Lineage {
        unit: Some("app-gnome-foo-1234.scope".into()),
        ..service.clone()
    };
    assert!(!orphan.started_by(&starters()));
    // A program that is not systemd, in a unit named init.scope.
    let impostor = Lineage {
        parent_exe: Some(OTHER_EXE),
        ..service.clone()
    };
    assert!(!impostor.started_by(&starters()));
    let elsewhere = Lineage {
        parent_unit: Some("session-2.scope".into()),
        ..service
    };
    assert!(!elsewhere.started_by(&starters()));
}

#[test]
fn proc_files() {
    let stat = "1234 (a (b) c) S 77 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3";
    assert_eq!(
        proc_stat(stat),
        Some(ProcStat {
            ppid: 77,
            start_time: 987654
        })
    );
    assert_eq!(proc_stat("1234 (x) S"), None);
    let cgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/latchkeyd.service\n";
    let path = cgroup_v2_path(cgroup).unwrap();
    assert_eq!(systemd_unit(path), Some("latchkeyd.service"));
    assert_eq!(systemd_unit("/"), None);
    assert_eq!(cgroup_v2_path("1:name=systemd:/x\n"), None);
}

#[test]
fn this_process_s_parent_is_an_ancestor_and_no_other() {
    let me = stat_of(std::process::id()).unwrap();
    let parent = stat_of(me.ppid).unwrap();
    assert!(is_ancestor(me.ppid, parent.start_time));
    // The same PID with another start time: a reused PID.
    assert!(!is_ancestor(me.ppid, parent.start_time + 1));
    // This process is not its own ancestor, nor is a child of it.
    assert!(!is_ancestor(std::process::id(), me.start_time));
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .unwrap();
    let child_stat = stat_of(child.id()).unwrap();
    assert!(!is_ancestor(child.id(), child_stat.start_time));
    let _ = child.kill();
    let _ = child.wait();
}
