#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey browser install|uninstall` as a user runs it: HOME and XDG_CONFIG_HOME point into a
//! temp dir; the tests check the files on disk, their JSON and modes, and that uninstall leaves
//! the directories as they were.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");
const CHROMIUM_ORIGIN: &str = "chrome-extension://fffpidmmhigeegjochefhdhalmjmeamj/";
const FIREFOX_ID: &str = "latchkey@latchkey.dev";

struct Env {
    _t: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    config: PathBuf,
    /// A stand-in host binary.
    host: PathBuf,
}

fn env() -> Env {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_owned();
    let home = root.join("home");
    let config = root.join("config");
    std::fs::create_dir_all(&home).unwrap();
    let host = root.join("bin/latchkey-native-host");
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, b"#!/bin/sh\n").unwrap();
    Env {
        _t: t,
        root,
        home,
        config,
        host,
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(program: &Path, e: &Env, args: &[&str]) -> Out {
    let o = Command::new(program)
        .args(args)
        .env_clear()
        .env("HOME", &e.home)
        .env("XDG_CONFIG_HOME", &e.config)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn latchkey(e: &Env, args: &[&str]) -> Out {
    run_with(Path::new(LATCHKEY), e, args)
}

/// Every path under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chromium_manifest(e: &Env) -> PathBuf {
    e.config
        .join("chromium/NativeMessagingHosts/dev.latchkey.native_host.json")
}
fn chrome_manifest(e: &Env) -> PathBuf {
    e.config
        .join("google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json")
}
fn firefox_manifest(e: &Env) -> PathBuf {
    e.home
        .join(".mozilla/native-messaging-hosts/dev.latchkey.native_host.json")
}

/// The install record beside a manifest.
fn record(manifest: &Path) -> PathBuf {
    manifest.with_file_name(".dev.latchkey.native_host.install")
}

#[test]
fn install_writes_every_browsers_manifest_and_uninstall_removes_all_of_it() {
    let e = env();
    let before = tree(&e.root);
    let host = e.host.to_str().unwrap();
    let out = latchkey(&e, &["browser", "install", "--host", host, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({
            "host": host,
            "installed": [
                { "browser": "chromium", "manifest": chromium_manifest(&e) },
                { "browser": "chrome", "manifest": chrome_manifest(&e) },
                { "browser": "firefox", "manifest": firefox_manifest(&e) },
            ],
        })
    );
    for (path, key, value) in [
        (chromium_manifest(&e), "allowed_origins", CHROMIUM_ORIGIN),
        (chrome_manifest(&e), "allowed_origins", CHROMIUM_ORIGIN),
        (firefox_manifest(&e), "allowed_extensions", FIREFOX_ID),
    ] {
        assert_eq!(
            read_json(&path),
            json!({
                "name": "dev.latchkey.native_host",
                "description": "Latchkey passkeys for the web",
                "path": host,
                "type": "stdio",
                key: [value],
            }),
            "{}",
            path.display()
        );
        assert_eq!(mode(&path), 0o644, "{}", path.display());
        assert!(std::fs::read(&path).unwrap().ends_with(b"}\n"));
    }
    assert_eq!(
        tree(&e.root),
        [
            "bin",
            "bin/latchkey-native-host",
            "config",
            "config/chromium",
            "config/chromium/NativeMessagingHosts",
            "config/chromium/NativeMessagingHosts/.dev.latchkey.native_host.install",
            "config/chromium/NativeMessagingHosts/dev.latchkey.native_host.json",
            "config/google-chrome",
            "config/google-chrome/NativeMessagingHosts",
            "config/google-chrome/NativeMessagingHosts/.dev.latchkey.native_host.install",
            "config/google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json",
            "home",
            "home/.mozilla",
            "home/.mozilla/native-messaging-hosts",
            "home/.mozilla/native-messaging-hosts/.dev.latchkey.native_host.install",
            "home/.mozilla/native-messaging-hosts/dev.latchkey.native_host.json",
        ]
    );

    // Installing again changes nothing.
    let snapshot: Vec<_> = [chromium_manifest(&e), firefox_manifest(&e)]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let again = latchkey(&e, &["browser", "install", "--host", host]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again
        .stdout
        .contains(&format!("Wrote {}", firefox_manifest(&e).display())));
    assert_eq!(std::fs::read(chromium_manifest(&e)).unwrap(), snapshot[0]);
    assert_eq!(std::fs::read(firefox_manifest(&e)).unwrap(), snapshot[1]);

    let out = latchkey(&e, &["browser", "uninstall", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({
            "removed": [
                chromium_manifest(&e),
                record(&chromium_manifest(&e)),
                chrome_manifest(&e),
                record(&chrome_manifest(&e)),
                firefox_manifest(&e),
                record(&firefox_manifest(&e)),
            ],
            "removed_dirs": [
                e.config.join("chromium/NativeMessagingHosts"),
                e.config.join("chromium"),
                e.config.join("google-chrome/NativeMessagingHosts"),
                e.config.join("google-chrome"),
                e.home.join(".mozilla/native-messaging-hosts"),
                e.home.join(".mozilla"),
            ],
            "left": [],
        })
    );
    // Everything install created is gone; the config directory itself (which install created
    // too, since XDG_CONFIG_HOME named a missing one) is the one thing left, empty.
    let mut expected = before.clone();
    expected.push("config".into());
    expected.sort();
    assert_eq!(tree(&e.root), expected);

    // Uninstalling again is not an error and removes nothing.
    let out = latchkey(&e, &["browser", "uninstall"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Nothing was installed."),
        "{}",
        out.stdout
    );
    assert_eq!(tree(&e.root), expected);
}

#[test]
fn one_browser_at_a_time_and_uninstall_keeps_the_browsers_own_files() {
    let e = env();
    // Firefox's profile directory exists already; Chromium's manifest directory has another
    // host's manifest.
    let profiles = e.home.join(".mozilla/firefox/profiles.ini");
    std::fs::create_dir_all(profiles.parent().unwrap()).unwrap();
    std::fs::write(&profiles, b"[General]\n").unwrap();
    let other = e
        .config
        .join("chromium/NativeMessagingHosts/org.example.json");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, b"{}").unwrap();
    let before = tree(&e.root);

    let host = e.host.to_str().unwrap();
    let out = latchkey(
        &e,
        &["browser", "install", "--browser", "firefox", "--host", host],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(firefox_manifest(&e).is_file());
    assert!(!chromium_manifest(&e).exists() && !chrome_manifest(&e).exists());
    assert_eq!(
        read_json(&firefox_manifest(&e))["allowed_extensions"],
        json!([FIREFOX_ID])
    );

    let out = latchkey(
        &e,
        &[
            "browser",
            "install",
            "--browser",
            "chromium",
            "--host",
            host,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(chromium_manifest(&e).is_file() && !chrome_manifest(&e).exists());

    // Uninstalling Chrome only (never installed) touches nothing.
    let out = latchkey(&e, &["browser", "uninstall", "--browser", "chrome"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(chromium_manifest(&e).is_file() && firefox_manifest(&e).is_file());

    let out = latchkey(
        &e,
        &[
            "browser",
            "uninstall",
            "--browser",
            "firefox",
            "--browser",
            "chromium",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(tree(&e.root), before);
}

#[test]
fn the_default_host_is_the_one_next_to_latchkey() {
    let e = env();
    // A copy of latchkey in the temp bin directory, beside the stand-in host.
    let copy = e.host.with_file_name("latchkey");
    std::fs::copy(LATCHKEY, &copy).unwrap();
    let out = run_with(&copy, &e, &["browser", "install", "--browser", "firefox"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        read_json(&firefox_manifest(&e))["path"],
        json!(e.host.to_str().unwrap())
    );

    // Without a host next to it, install fails and writes nothing.
    std::fs::remove_file(&e.host).unwrap();
    let out = run_with(&copy, &e, &["browser", "uninstall"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let before = tree(&e.root);
    let out = run_with(&copy, &e, &["browser", "install", "--json"]);
    assert_eq!(out.code, 1);
    let err: Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(
        err,
        json!({ "error": "cannot find latchkey-native-host next to this program; name it with --host" })
    );
    assert_eq!(tree(&e.root), before);
}

#[test]
fn bad_hosts_and_environments_are_refused() {
    let e = env();
    let missing = e.root.join("nowhere/latchkey-native-host");
    let out = latchkey(
        &e,
        &["browser", "install", "--host", missing.to_str().unwrap()],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        format!("error: the native host {} is not a file", missing.display())
    );
    assert!(!e.config.exists() && !e.home.join(".mozilla").exists());

    // A relative --host is made absolute against the working directory.
    let o = Command::new(LATCHKEY)
        .args([
            "browser",
            "install",
            "--browser",
            "firefox",
            "--host",
            "bin/latchkey-native-host",
        ])
        .current_dir(&e.root)
        .env_clear()
        .env("HOME", &e.home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        read_json(&firefox_manifest(&e))["path"],
        json!(e.host.to_str().unwrap())
    );

    // No HOME: refused, nothing written.
    let o = Command::new(LATCHKEY)
        .args(["browser", "install", "--host", e.host.to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(o.stderr).unwrap().trim(),
        "error: HOME is not set to an absolute path"
    );
}

#[test]
fn directories_the_browsers_made_stay_after_install_and_uninstall() {
    let e = env();
    // Empty directories the browsers created before Latchkey was installed.
    let ff_hosts = e.home.join(".mozilla/native-messaging-hosts");
    let chromium = e.config.join("chromium");
    std::fs::create_dir_all(&ff_hosts).unwrap();
    std::fs::create_dir_all(&chromium).unwrap();
    let before = tree(&e.root);
    let host = e.host.to_str().unwrap();
    let out = latchkey(&e, &["browser", "install", "--host", host]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = latchkey(&e, &["browser", "uninstall", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    // Only what install created goes: Chromium's NativeMessagingHosts (chromium/ existed) and
    // all of Chrome's; nothing of Firefox's.
    assert_eq!(
        printed["removed_dirs"],
        json!([
            chromium.join("NativeMessagingHosts"),
            e.config.join("google-chrome/NativeMessagingHosts"),
            e.config.join("google-chrome"),
        ])
    );
    assert!(ff_hosts.is_dir() && chromium.is_dir());
    assert_eq!(tree(&e.root), before);
}

#[test]
fn a_foreign_manifest_at_our_name_is_left_alone_and_reported() {
    let e = env();
    let host = e.host.to_str().unwrap();
    let out = latchkey(&e, &["browser", "install", "--host", host]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Another program replaced Firefox's manifest with one naming its own host.
    let foreign = br#"{"name":"dev.latchkey.native_host","path":"/opt/other/host","type":"stdio"}"#;
    std::fs::write(firefox_manifest(&e), foreign).unwrap();

    let out = latchkey(&e, &["browser", "uninstall", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        printed["removed"],
        json!([
            chromium_manifest(&e),
            record(&chromium_manifest(&e)),
            chrome_manifest(&e),
            record(&chrome_manifest(&e)),
            record(&firefox_manifest(&e)),
        ])
    );
    assert_eq!(
        printed["left"],
        json!([{
            "path": firefox_manifest(&e),
            "reason": "its path \"/opt/other/host\" is not latchkey-native-host",
        }])
    );
    // Firefox's directories hold the foreign manifest: none of them is removed.
    assert!(!printed["removed_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d.as_str().unwrap().contains(".mozilla")));
    assert_eq!(std::fs::read(firefox_manifest(&e)).unwrap(), foreign);

    // Without --json the message says so plainly.
    let out = latchkey(&e, &["browser", "uninstall"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "Left {} in place: its path \"/opt/other/host\" is not latchkey-native-host, \
             so another program wrote it.\n",
            firefox_manifest(&e).display()
        )
    );
    assert_eq!(std::fs::read(firefox_manifest(&e)).unwrap(), foreign);
}
