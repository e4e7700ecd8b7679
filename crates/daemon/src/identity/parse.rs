//! Pure parsers for what the kernel tells about a process: `.flatpak-info`, `/proc/PID/cgroup`,
//! `/proc/PID/stat`, `snap.yaml` and pidfd `fdinfo`. No I/O here; [`super`] reads the files.

/// The `name` key of the `[Application]` group of a `.flatpak-info` keyfile (Flatpak's
/// `flatpak-metadata(5)`), if it is a plausible reverse-DNS application ID.
pub fn flatpak_app_id(keyfile: &str) -> Option<String> {
    let mut in_application = false;
    for line in keyfile.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_application = line == "[Application]";
            continue;
        }
        if !in_application {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "name" {
                let id = value.trim();
                return is_app_id(id).then(|| id.to_owned());
            }
        }
    }
    None
}

/// A D-Bus-style application ID: 2+ dot-separated elements of `[A-Za-z0-9_-]`, ≤ 255 bytes.
pub fn is_app_id(id: &str) -> bool {
    id.len() <= 255
        && id.split('.').count() >= 2
        && id.split('.').all(|e| {
            !e.is_empty()
                && e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

// Shared with latchkeyd's clients, which read latchkeyd's own process the same way.
pub use latchkey_api::started::{cgroup_v2_path, proc_stat, systemd_unit, ProcStat};

/// The snap name of an AppArmor label snapd confines a snap's apps and hooks with,
/// `snap.NAME.APP (enforce)` or `snap.NAME.hook.HOOK (enforce)` (`/proc/PID/attr/current`).
/// A profile in complain mode holds the process to nothing, so only `(enforce)` counts; loading a
/// profile takes root, so the label itself cannot be forged by the user.
pub fn snap_name_from_apparmor_label(label: &str) -> Option<String> {
    let (profile, mode) = label.trim_end_matches(['\n', '\0']).rsplit_once(' ')?;
    if mode != "(enforce)" {
        return None;
    }
    let mut parts = profile.strip_prefix("snap.")?.split('.');
    let name = parts.next()?;
    let app = parts.next()?;
    (is_snap_name(name) && !app.is_empty()).then(|| name.to_owned())
}

/// The snap name from a cgroup path with a `snap.NAME.APP[-ID].scope` (or `.service`) element.
/// Informative only: any process of the user may run in a scope so named, so identity never
/// comes from it (see [`snap_name_from_apparmor_label`]).
pub fn snap_name_from_cgroup(cgroup_path: &str) -> Option<String> {
    cgroup_path.split('/').find_map(|e| {
        let rest = e.strip_prefix("snap.")?;
        if !(rest.ends_with(".scope") || rest.ends_with(".service")) {
            return None;
        }
        let name = rest.split('.').next()?;
        is_snap_name(name).then(|| name.to_owned())
    })
}

/// The `name:` of a `meta/snap.yaml` (top-level key only). Informative only, as the cgroup.
pub fn snap_name_from_yaml(yaml: &str) -> Option<String> {
    yaml.lines().find_map(|l| {
        let v = l
            .strip_prefix("name:")?
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        is_snap_name(v).then(|| v.to_owned())
    })
}

/// Snap names: lowercase letters, digits and dashes, 1..=40 bytes.
pub fn is_snap_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The application ID in an XDG-standardised systemd unit name
/// (`app[-<launcher>]-<ApplicationID>[@<RANDOM>].service`, `app[-<launcher>]-<ApplicationID>-<RANDOM>.scope`),
/// with `\x2d` unescaped. Informative only: any process of the user may create such a scope.
pub fn app_id_from_unit(unit: &str) -> Option<String> {
    let rest = unit.strip_prefix("app-")?;
    let body = if let Some(s) = rest.strip_suffix(".scope") {
        s.rsplit_once('-').map(|(a, _random)| a)?
    } else {
        let s = rest.strip_suffix(".service")?;
        s.split_once('@').map_or(s, |(a, _)| a)
    };
    let id = body.rsplit('-').next()?.replace("\\x2d", "-");
    (!id.is_empty()).then_some(id)
}

/// The `Pid:` of a pidfd's `/proc/self/fdinfo/FD`: `Some(pid)` while the process lives, `None`
/// when it exited (the kernel prints `-1`) or the field is missing.
pub fn pidfd_fdinfo_pid(fdinfo: &str) -> Option<u32> {
    fdinfo.lines().find_map(|l| {
        let v = l.strip_prefix("Pid:")?.trim();
        v.parse::<i64>()
            .ok()
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatpak_info() {
        let k = "[Application]\nname=org.mozilla.firefox\nruntime=runtime/org.freedesktop.Platform\n\n[Instance]\ninstance-id=1\n";
        assert_eq!(flatpak_app_id(k).as_deref(), Some("org.mozilla.firefox"));
        assert_eq!(flatpak_app_id("[Runtime]\nname=org.x.y\n"), None);
        assert_eq!(flatpak_app_id("[Application]\nname=../etc\n"), None);
        assert_eq!(flatpak_app_id("[Application]\nname=single\n"), None);
    }

    #[test]
    fn cgroups() {
        let c = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox\\x2desr-4242.scope\n";
        let p = cgroup_v2_path(c).unwrap();
        let unit = systemd_unit(p).unwrap();
        assert_eq!(unit, "app-gnome-firefox\\x2desr-4242.scope");
        assert_eq!(app_id_from_unit(unit).as_deref(), Some("firefox-esr"));
        assert_eq!(
            app_id_from_unit("app-org.gnome.Terminal@abc.service").as_deref(),
            Some("org.gnome.Terminal")
        );
        assert_eq!(app_id_from_unit("session-2.scope"), None);
        let s = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/snap.chromium.chromium-0b1c.scope";
        assert_eq!(snap_name_from_cgroup(s).as_deref(), Some("chromium"));
        assert_eq!(snap_name_from_cgroup("/user.slice/snap.Bad.x.scope"), None);
        assert_eq!(
            snap_name_from_yaml("name: firefox\nversion: 1\n").as_deref(),
            Some("firefox")
        );
    }

    #[test]
    fn apparmor_labels() {
        for (label, name) in [
            ("snap.chromium.chromium (enforce)\n", Some("chromium")),
            ("snap.firefox.hook.configure (enforce)", Some("firefox")),
            ("snap.chromium.chromium (complain)\n", None),
            ("snap.chromium (enforce)\n", None),
            ("snap.Bad.app (enforce)\n", None),
            ("snap-update-ns.chromium (enforce)\n", None),
            ("unconfined\n", None),
            ("system_u:system_r:unconfined_t:s0\n", None),
            ("", None),
        ] {
            assert_eq!(
                snap_name_from_apparmor_label(label).as_deref(),
                name,
                "{label:?}"
            );
        }
    }

    #[test]
    fn stat_with_hostile_comm() {
        let s = "1234 (evil) 0 1 ) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(
            proc_stat(s),
            Some(ProcStat {
                ppid: 77,
                start_time: 987654
            })
        );
        assert_eq!(proc_stat("garbage"), None);
    }

    #[test]
    fn fdinfo() {
        assert_eq!(
            pidfd_fdinfo_pid("pos:\t0\nflags:\t02000002\nPid:\t4321\nNSpid:\t4321\n"),
            Some(4321)
        );
        assert_eq!(pidfd_fdinfo_pid("Pid:\t-1\n"), None);
        assert_eq!(pidfd_fdinfo_pid("pos: 0\n"), None);
    }
}
