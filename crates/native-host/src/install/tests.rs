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
            "home/.mozilla/native-messaging-hosts/dev.latchkey.native_host.json",
            "xdg-config",
            "xdg-config/chromium",
            "xdg-config/chromium/NativeMessagingHosts",
            "xdg-config/chromium/NativeMessagingHosts/dev.latchkey.native_host.json",
            "xdg-config/google-chrome",
            "xdg-config/google-chrome/NativeMessagingHosts",
            "xdg-config/google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json",
        ]
    );

    // Reinstalling overwrites in place.
    install_manifests(&dirs, Path::new("/opt/lk/host"), &[Browser::Chrome]).unwrap();
    assert!(std::fs::read_to_string(&written[1])
        .unwrap()
        .contains("\"/opt/lk/host\""));

    let removed = uninstall_manifests(&dirs, &[Browser::Chromium, Browser::Firefox]).unwrap();
    assert_eq!(removed.files, vec![written[0].clone(), written[2].clone()]);
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
    uninstall_manifests(&dirs, &Browser::ALL).unwrap();
    // The home directory and the config directory (the base directories) stay.
    assert_eq!(tree(t.path()), ["home", "xdg-config"]);
}

#[test]
fn uninstall_keeps_directories_that_hold_other_files() {
    let (_t, dirs) = temp_dirs();
    let profile = dirs.home.join(".mozilla/firefox");
    std::fs::create_dir_all(&profile).unwrap();
    let other = dirs.home.join(".mozilla/native-messaging-hosts/other.json");
    install_manifests(&dirs, Path::new("/h"), &[Browser::Firefox]).unwrap();
    std::fs::write(&other, b"{}").unwrap();
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert_eq!(removed.dirs, Vec::<PathBuf>::new());
    assert!(other.exists() && profile.exists());
    std::fs::remove_file(&other).unwrap();
    // Now the hosts directory is empty; `.mozilla` still holds the profile.
    let removed = uninstall_manifests(&dirs, &[Browser::Firefox]).unwrap();
    assert!(removed.files.is_empty());
    assert_eq!(
        removed.dirs,
        vec![dirs.home.join(".mozilla/native-messaging-hosts")]
    );
    assert!(profile.exists());
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
