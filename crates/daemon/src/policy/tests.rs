use super::*;

fn ident(exe: Option<&str>, flatpak: Option<&str>, snap: Option<&str>) -> CallerIdentity {
    CallerIdentity {
        pid: 10,
        ppid: 1,
        start_time: 5,
        executable: exe.map(PathBuf::from),
        executable_file: None,
        same_mount_namespace: flatpak.is_none(),
        flatpak_app_id: flatpak.map(str::to_owned),
        snap_name: snap.map(str::to_owned),
        systemd_unit: None,
        cgroup_path: None,
    }
}

fn own_exe() -> CallerIdentity {
    let me = std::process::id();
    crate::identity::identify(
        crate::identity::PeerCredentials {
            pid: Some(me),
            pidfd: None,
            uid: None,
        },
        rustix::process::getuid().as_raw(),
    )
    .unwrap()
}

#[test]
fn classifies_by_flatpak_snap_and_executable() {
    let exe = std::env::current_exe().unwrap();
    let p = Policy::from_toml(&format!(
        "[[privileged]]\nflatpak = \"org.mozilla.firefox\"\n[[privileged]]\nsnap = \"chromium\"\n\
         [[privileged]]\nname = \"me\"\nexecutable = \"{}\"\n\
         [[app]]\nflatpak = \"com.example.Chat\"\nrp_ids = [\"chat.example.com\"]\n",
        exe.display()
    ))
    .unwrap();
    assert!(matches!(
        p.classify(&ident(None, Some("org.mozilla.firefox"), None)),
        CallerClass::Privileged { .. }
    ));
    assert!(matches!(
        p.classify(&ident(None, None, Some("chromium"))),
        CallerClass::Privileged { .. }
    ));
    assert_eq!(
        p.classify(&own_exe()),
        CallerClass::Privileged {
            name: "me".into(),
            via_native_host: None,
        }
    );
    assert_eq!(
        p.classify(&ident(None, Some("com.example.Chat"), None)),
        CallerClass::Bound {
            name: "com.example.Chat".into(),
            rp_ids: vec!["chat.example.com".into()]
        }
    );
    assert_eq!(
        p.classify(&ident(Some("/usr/bin/evil"), None, None)),
        CallerClass::Unknown
    );
    // A sandboxed app whose in-sandbox executable path equals a privileged path is not privileged.
    let mut sandboxed = own_exe();
    sandboxed.flatpak_app_id = Some("org.evil.App".into());
    assert_eq!(p.classify(&sandboxed), CallerClass::Unknown);
    // A path alone (no matching inode) is not enough.
    assert_eq!(
        p.classify(&ident(Some(&exe.display().to_string()), None, None)),
        CallerClass::Unknown
    );
}

#[test]
fn malformed_entries_are_dropped_with_warning() {
    let p = Policy::from_toml("[[privileged]]\nflatpak = \"a.b\"\nsnap = \"c\"\n[[privileged]]\nexecutable = \"relative\"\n").unwrap();
    assert_eq!(p.warnings.len(), 2);
    assert_eq!(
        p.classify(&ident(None, Some("a.b"), None)),
        CallerClass::Unknown
    );
    assert!(Policy::from_toml("[[privileged]]\nbogus = 1\n").is_err());
}

#[test]
fn layers_admin_overrides_and_user_only_narrows() {
    let t = tempfile::tempdir().unwrap();
    let (sys, adm, usr) = (
        t.path().join("sys"),
        t.path().join("adm"),
        t.path().join("usr"),
    );
    for d in [&sys, &adm, &usr] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(
        sys.join("50-browsers.toml"),
        "[[privileged]]\nflatpak = \"org.a.A\"\n",
    )
    .unwrap();
    std::fs::write(
        sys.join("60-more.toml"),
        "[[privileged]]\nflatpak = \"org.b.B\"\n",
    )
    .unwrap();
    // The admin replaces 50-browsers.toml entirely.
    std::fs::write(
        adm.join("50-browsers.toml"),
        "[[privileged]]\nflatpak = \"org.c.C\"\n",
    )
    .unwrap();
    // The user tries to widen (ignored) and narrows (honoured).
    std::fs::write(
        usr.join("me.toml"),
        "unknown_callers = \"deny\"\n[[privileged]]\nflatpak = \"org.evil.E\"\n[[deny]]\nflatpak = \"org.b.B\"\n",
    )
    .unwrap();
    let p = Policy::load(&PolicyDirs {
        system: sys,
        admin: adm,
        user: Some(usr),
    })
    .unwrap();
    assert_eq!(
        p.classify(&ident(None, Some("org.a.A"), None)),
        CallerClass::Denied
    ); // unknown → deny
    assert_eq!(
        p.classify(&ident(None, Some("org.b.B"), None)),
        CallerClass::Denied
    );
    assert!(matches!(
        p.classify(&ident(None, Some("org.c.C"), None)),
        CallerClass::Privileged { .. }
    ));
    assert_eq!(
        p.classify(&ident(None, Some("org.evil.E"), None)),
        CallerClass::Denied
    );
    assert_eq!(p.warnings.len(), 1);
}

#[test]
fn shipped_default_policy_parses_and_names_browsers() {
    let text = include_str!("../../../../data/policy.d/50-browsers.toml");
    let p = Policy::from_toml(text).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // Flatpak browsers are shipped off (anyone can build a bundle of any ID), with the entries an
    // administrator enables, commented.
    let admin_file: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.starts_with("name =") || l.starts_with("flatpak ="))
        .map(|l| format!("{l}\n"))
        .collect();
    let enabled = Policy::from_toml(&admin_file).unwrap();
    for f in [
        "org.mozilla.firefox",
        "org.chromium.Chromium",
        "com.google.Chrome",
    ] {
        assert!(
            !matches!(
                p.classify(&ident(None, Some(f), None)),
                CallerClass::Privileged { .. }
            ),
            "{f}"
        );
        assert!(
            matches!(
                enabled.classify(&ident(None, Some(f), None)),
                CallerClass::Privileged { .. }
            ),
            "{f} in the documented administrator file"
        );
    }
    for s in ["firefox", "chromium"] {
        assert!(
            matches!(
                p.classify(&ident(None, None, Some(s))),
                CallerClass::Privileged { .. }
            ),
            "{s}"
        );
    }
    for e in [
        "/usr/lib/firefox-esr/firefox-esr",
        "/usr/lib/chromium/chromium",
        "/opt/google/chrome/chrome",
    ] {
        assert!(text.contains(&format!("executable = \"{e}\"")), "{e}");
    }
}

#[test]
fn native_hosts_are_named_by_absolute_executable_only() {
    let text = include_str!("../../../../data/policy.d/50-browsers.toml");
    let p = Policy::from_toml(text).unwrap();
    let hosts: Vec<_> = p
        .native_host
        .iter()
        .filter_map(|m| m.executable.as_deref())
        .collect();
    assert_eq!(
        hosts,
        [
            Path::new("/usr/libexec/latchkey-native-host"),
            Path::new("/usr/lib/latchkey/latchkey-native-host")
        ]
    );
    let bad = Policy::from_toml(
        "[[native_host]]\nflatpak = \"org.mozilla.firefox\"\n\n[[native_host]]\nexecutable = \"rel/host\"\n",
    )
    .unwrap();
    assert!(bad.native_host.is_empty());
    assert_eq!(bad.warnings.len(), 2, "{:?}", bad.warnings);
    // A host with no live parent process to check is never privileged.
    let host = Policy::from_toml("[[native_host]]\nexecutable = \"/usr/bin/evil\"\n").unwrap();
    assert_eq!(
        host.classify(&ident(Some("/usr/bin/evil"), None, None)),
        CallerClass::Unknown
    );
}

#[test]
fn the_shipped_trusted_prompt_must_have_been_started_by_the_bus() {
    let p = Policy::from_toml(include_str!("../../../../data/policy.d/50-browsers.toml")).unwrap();
    let ui = ident(Some("/usr/libexec/latchkey-ui"), None, None);
    // `ident` has no executable file to compare, so match by entry instead.
    let entry = p
        .trusted_prompt
        .iter()
        .find(|m| m.executable.as_deref() == Some(Path::new("/usr/libexec/latchkey-ui")))
        .unwrap();
    assert!(entry.bus_started);
    assert!(
        !p.trusted_prompt_needs_bus_start(&ui),
        "matches no entry: nothing to ask"
    );
    // An entry without the flag (tests, development setups) asks nothing of the parent.
    let own = own_exe();
    let exe = own.executable.clone().unwrap();
    let open = Policy::from_toml(&format!(
        "[[trusted_prompt]]\nexecutable = \"{}\"\n",
        exe.display()
    ))
    .unwrap();
    assert!(open.is_trusted_prompt(&own));
    assert!(!open.trusted_prompt_needs_bus_start(&own));
    let strict = Policy::from_toml(&format!(
        "[[trusted_prompt]]\nexecutable = \"{}\"\nbus_started = true\n",
        exe.display()
    ))
    .unwrap();
    assert!(strict.trusted_prompt_needs_bus_start(&own));
}
