use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn temp_dirs() -> (tempfile::TempDir, UserDirs) {
    let t = tempfile::tempdir().unwrap();
    let dirs = UserDirs {
        home: t.path().join("home"),
        config: t.path().join("xdg-config"),
    };
    std::fs::create_dir(&dirs.home).unwrap();
    (t, dirs)
}

/// Every path under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn user_dirs_follow_home_and_xdg_config_home() {
    let d = UserDirs::from_vars(Some("/h".into()), None).unwrap();
    assert_eq!(d.config, PathBuf::from("/h/.config"));
    let d = UserDirs::from_vars(Some("/h".into()), Some("/x".into())).unwrap();
    assert_eq!((d.home, d.config), ("/h".into(), "/x".into()));
    // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
    let d = UserDirs::from_vars(Some("/h".into()), Some("rel".into())).unwrap();
    assert_eq!(d.config, PathBuf::from("/h/.config"));
    assert!(matches!(
        UserDirs::from_vars(None, None),
        Err(InstallError::NoHome)
    ));
    assert!(matches!(
        UserDirs::from_vars(Some(OsString::from("home")), None),
        Err(InstallError::NoHome)
    ));
}

#[test]
fn installs_and_uninstalls_under_a_temp_home() {
    let (t, dirs) = temp_dirs();
    let host = Path::new("/usr/libexec/latchkey-native-host");
    let written = install_manifests(&dirs, host, &Browser::ALL).unwrap();
    assert_eq!(
        written,
        vec![
            dirs.config
                .join("chromium/NativeMessagingHosts/dev.latchkey.native_host.json"),
            dirs.config
                .join("google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json"),
            dirs.home
                .join(".mozilla/native-messaging-hosts/dev.latchkey.native_host.json"),
        ]
    );
    let chromium: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    assert_eq!(
        chromium,
        json!({
            "name": "dev.latchkey.native_host",
            "description": "Latchkey passkeys for the web",
            "path": "/usr/libexec/latchkey-native-host",
            "type": "stdio",
            "allowed_origins": ["chrome-extension://fffpidmmhigeegjochefhdhalmjmeamj/"],
        })
    );
    let firefox: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written[2]).unwrap()).unwrap();
    assert_eq!(
        firefox,
        json!({
            "name": "dev.latchkey.native_host",
            "description": "Latchkey passkeys for the web",
            "path": "/usr/libexec/latchkey-native-host",
            "type": "stdio",
            "allowed_extensions": ["latchkey@latchkey.dev"],
        })
    );
    for f in &written {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644, "{}", f.display());
    }
    // No temp files left behind.
    assert_eq!(
        tree(t.path()),
        [
            "home",
            "home/.mozilla",
            "home/.mozilla/native-messaging-hosts",
            "home/.mozilla/native-messaging-hosts/.dev.latchkey.native_host.install",
            "home/.mozilla/native-messaging-hosts/dev.latchkey.native_host.json",
            "xdg-config",
            "xdg-config/chromium",
            "xdg-config/chromium/NativeMessagingHosts",
            "xdg-config/chromium/NativeMessagingHosts/.dev.latchkey.native_host.install",
            "xdg-config/chromium/NativeMessagingHosts/dev.latchkey.native_host.json",
            "xdg-config/google-chrome",
            "xdg-config/google-chrome/NativeMessagingHosts",
            "xdg-config/google-chrome/NativeMessagingHosts/.dev.latchkey.native_host.install",
            "xdg-config/google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json",
        ]
    );

    // The records say which directories each install created: all three levels of Chromium's
    // (the config directory was missing too), two of Firefox's (the home directory existed).
    let record = |b: Browser| Record::read(&b.manifest_dir(&dirs)).unwrap();
    assert_eq!(
        record(Browser::Chromium),
        Record {
            host: "/usr/libexec/latchkey-native-host".into(),
            created_dirs: 3
        }
    );
    assert_eq!(record(Browser::Chrome).created_dirs, 2);
    assert_eq!(record(Browser::Firefox).created_dirs, 2);
    let mode = std::fs::metadata(Browser::Firefox.manifest_dir(&dirs).join(RECORD_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);

    // Reinstalling overwrites in place and keeps the first install's count.
    install_manifests(&dirs, Path::new("/opt/lk/host"), &[Browser::Chrome]).unwrap();
    assert!(std::fs::read_to_string(&written[1])
        .unwrap()
        .contains("\"/opt/lk/host\""));
    assert_eq!(
        record(Browser::Chrome),
        Record {
            host: "/opt/lk/host".into(),
            created_dirs: 2
        }
    );

    let removed = uninstall_manifests(&dirs, &[Browser::Chromium, Browser::Firefox]).unwrap();
    let rec = |b: Browser| b.manifest_dir(&dirs).join(RECORD_FILE);
    assert_eq!(
        removed.files,
        vec![
            written[0].clone(),
            rec(Browser::Chromium),
            written[2].clone(),
            rec(Browser::Firefox)
        ]
    );
    assert!(removed.left.is_empty());
    assert_eq!(
        removed.dirs,
        vec![
            dirs.config.join("chromium/NativeMessagingHosts"),
            dirs.config.join("chromium"),
            dirs.home.join(".mozilla/native-messaging-hosts"),
            dirs.home.join(".mozilla"),
        ]
    );
    assert!(written[1].exists());
    // Uninstalling again removes nothing and is not an error.
    assert_eq!(
        uninstall_manifests(&dirs, &[Browser::Chromium]).unwrap(),
        Removed::default()
    );
    // Chrome's manifest names /opt/lk/host, not a latchkey-native-host: the record vouches for it.
    let removed = uninstall_manifests(&dirs, &Browser::ALL).unwrap();
    assert_eq!(
        removed.files,
        vec![written[1].clone(), rec(Browser::Chrome)]
    );
    // The home directory and the config directory (the base directories) stay.
    assert_eq!(tree(t.path()), ["home", "xdg-config"]);
}

#[test]
fn uninstall_keeps_directories_that_hold_other_files() {
    let (_t, dirs) = temp_dirs();
    let profile = dirs.home.join(".mozilla/firefox");
    std::fs::create_dir_all(&profile).unwrap();
    let hosts = dirs.home.join(".mozilla/native-messaging-hosts");
    let other = hosts.join("other.json");
    install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    assert_eq!(Record::read(&hosts).unwrap().created_dirs, 1);
    std::fs::write(&other, b"{}").unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(
        removed.files,
        vec![hosts.join(MANIFEST_FILE), hosts.join(RECORD_FILE)]
    );
    assert_eq!(removed.dirs, Vec::<PathBuf>::new());
    assert!(other.exists() && profile.exists());
    // With the record gone, nothing of ours is left: uninstalling again touches nothing, even
    // once the other host's manifest is gone too.
    std::fs::remove_file(&other).unwrap();
    assert_eq!(
        uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap(),
        Removed::default()
    );
    assert!(hosts.is_dir() && profile.is_dir());
}

#[test]
fn directories_that_existed_before_install_survive_uninstall() {
    let (t, dirs) = temp_dirs();
    // The browsers made their (empty) directories before we came.
    for b in Browser::ALL {
        std::fs::create_dir_all(b.manifest_dir(&dirs)).unwrap();
    }
    std::fs::create_dir(dirs.config.join("empty-sibling")).unwrap();
    let before = tree(t.path());
    install_manifests(&dirs, Path::new("/x/latchkey-native-host"), &Browser::ALL).unwrap();
    for b in Browser::ALL {
        assert_eq!(
            Record::read(&b.manifest_dir(&dirs)).unwrap().created_dirs,
            0
        );
    }
    let removed = uninstall_manifests(&dirs, &Browser::ALL).unwrap();
    assert_eq!(removed.files.len(), 6);
    assert_eq!(removed.dirs, Vec::<PathBuf>::new());
    assert!(removed.left.is_empty());
    assert_eq!(tree(t.path()), before);

    // Only the levels install created go: `.mozilla` existed, its hosts directory did not.
    std::fs::remove_dir(Browser::Firefox.manifest_dir(&dirs)).unwrap();
    install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.dirs, vec![Browser::Firefox.manifest_dir(&dirs)]);
    assert!(dirs.home.join(".mozilla").is_dir());
}

#[test]
fn a_record_without_a_manifest_still_cleans_up_and_a_bad_record_removes_no_directory() {
    let (t, dirs) = temp_dirs();
    let before = tree(t.path());
    let written = install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    std::fs::remove_file(&written[0]).unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.files.len(), 1);
    assert_eq!(removed.dirs.len(), 2);
    assert_eq!(tree(t.path()), before);

    // A record claiming more levels than lie below the base directory stops at the base.
    install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    let dir = Browser::Firefox.manifest_dir(&dirs);
    let big = Record {
        host: "/h".into(),
        created_dirs: 99,
    };
    std::fs::write(dir.join(RECORD_FILE), big.to_text()).unwrap();
    uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(tree(t.path()), before);
    assert!(dirs.home.is_dir());

    // An unreadable record: the manifest names a latchkey-native-host so it goes, but no
    // directory does.
    install_manifests(
        &dirs,
        Path::new("/b/latchkey-native-host"),
        &[Browser::Firefox],
    )
    .unwrap();
    std::fs::write(dir.join(RECORD_FILE), b"created_dirs=2").unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.files.len(), 2);
    assert!(removed.dirs.is_empty() && dir.is_dir());
}

#[test]
fn a_foreign_manifest_at_our_name_is_left_alone() {
    let (_t, dirs) = temp_dirs();
    let dir = Browser::Firefox.manifest_dir(&dirs);
    let path = dir.join(MANIFEST_FILE);
    let cases: [(&[u8], Foreign); 3] = [
        (
            br#"{"name":"dev.latchkey.native_host","path":"/opt/evil/host","type":"stdio"}"#,
            Foreign::OtherHost("/opt/evil/host".into()),
        ),
        (
            br#"{"name":"org.example","path":"/x/latchkey-native-host"}"#,
            Foreign::OtherName("org.example".into()),
        ),
        (b"not json", Foreign::NotJson),
    ];
    for (bytes, reason) in cases {
        // Our install, then another program overwrote the manifest.
        install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
        assert_eq!(
            removed.left,
            vec![Left {
                path: path.clone(),
                reason
            }]
        );
        assert_eq!(removed.files, vec![dir.join(RECORD_FILE)]);
        assert!(removed.dirs.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_file(&path).unwrap();
    }
    // Without any record, only a latchkey-native-host path counts as ours.
    std::fs::write(&path, br#"{"name":"dev.latchkey.native_host","path":"/h"}"#).unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.left[0].reason, Foreign::OtherHost("/h".into()));
    assert_eq!(
        removed.left[0].reason.to_string(),
        "its path \"/h\" is not latchkey-native-host"
    );
    // A symlink at our name is not ours either, and its target is untouched.
    std::fs::remove_file(&path).unwrap();
    let target = dirs.home.join("target.json");
    std::fs::write(&target, b"{}").unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.left[0].reason, Foreign::NotAFile);
    assert!(path.is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"{}");
}

#[test]
fn a_symlink_at_the_old_fixed_temp_name_is_not_followed() {
    let (t, dirs) = temp_dirs();
    let dir = Browser::Firefox.manifest_dir(&dirs);
    std::fs::create_dir_all(&dir).unwrap();
    let outside = t.path().join("outside.txt");
    std::fs::write(&outside, b"precious").unwrap();
    let planted = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    std::os::unix::fs::symlink(&outside, &planted).unwrap();
    let written = install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
    assert!(planted.is_symlink());
    let meta = std::fs::symlink_metadata(&written[0]).unwrap();
    assert!(meta.file_type().is_file(), "the manifest is a regular file");
    assert!(std::fs::read_to_string(&written[0])
        .unwrap()
        .contains("\"path\": \"/h\""));
}

#[test]
fn atomic_write_never_opens_an_existing_path_and_cleans_up_on_error() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    // Many writes of the same name: each temp name is fresh, none is left behind.
    for i in 0..50u8 {
        atomic::write(dir, "f", &[i], 0o600).unwrap();
    }
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), [49]);
    assert_eq!(tree(dir), ["f"]);
    // The rename fails (a non-empty directory holds the name): the error names the destination
    // and the temp file is gone.
    std::fs::create_dir_all(dir.join("d/x")).unwrap();
    let (path, _) = atomic::write(dir, "d", b"new", 0o600).unwrap_err();
    assert_eq!(path, dir.join("d"));
    assert_eq!(tree(dir), ["d", "d/x", "f"]);
    // Through the public API the same failure is an Io error and leaves no temp file.
    let (_t2, dirs) = temp_dirs();
    let mdir = Browser::Firefox.manifest_dir(&dirs);
    std::fs::create_dir_all(mdir.join(MANIFEST_FILE).join("x")).unwrap();
    match install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]) {
        Err(InstallError::Io { path, .. }) => assert_eq!(path, mdir.join(MANIFEST_FILE)),
        other => panic!("{other:?}"),
    }
    let mut names: Vec<_> = std::fs::read_dir(&mdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [RECORD_FILE, MANIFEST_FILE]);
}

#[test]
fn temp_names_are_unique_and_hidden() {
    let a = atomic::temp_name("m.json");
    let b = atomic::temp_name("m.json");
    assert_ne!(a, b);
    assert!(a.starts_with(".m.json.") && a.ends_with(".tmp"), "{a}");
    assert_ne!(a, ".m.json.tmp");
}

#[test]
fn refuses_a_relative_host_path() {
    let (_t, dirs) = temp_dirs();
    assert!(matches!(
        install_manifests(&dirs, Path::new("bin/host"), &[Browser::Firefox]),
        Err(InstallError::RelativeHost(_))
    ));
    assert!(!Browser::Firefox.manifest_dir(&dirs).exists());
}

#[test]
fn an_unwritable_directory_is_an_io_error_naming_it() {
    let (_t, dirs) = temp_dirs();
    // A file where the directory should be.
    std::fs::write(dirs.home.join(".mozilla"), b"").unwrap();
    match install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]) {
        Err(InstallError::Io { path, .. }) => {
            assert_eq!(path, dirs.home.join(".mozilla/native-messaging-hosts"))
        }
        other => panic!("{other:?}"),
    }
}
