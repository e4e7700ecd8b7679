//! Which prompt asks the user for a request: the trusted graphical prompt (found on the bus, or
//! activated), else a caller-controlled prompt the caller registered (PROMPT-TRUST.md).

use latchkey_prompt as prompt;
use zbus::names::OwnedUniqueName;
use zbus::Connection;

use crate::identity::CallerIdentity;
use crate::prompt::{ChosenPrompt, Trust};
use crate::state::Shared;

/// The prompt for a request from `caller`: the trusted graphical prompt if it runs (or can be
/// activated), else a caller-controlled prompt registered by the caller or its child.
pub(crate) async fn choose_prompt(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
) -> Option<ChosenPrompt> {
    // The trusted prompt found last time, while it still owns the name (the watcher forgets it
    // when the name changes owner) and its identity still checks out against the kernel.
    let cached = shared.lock_trusted_prompt().clone();
    if let Some((owner, prompt)) = cached {
        match shared.identities.get(owner.as_str()) {
            Some(id) if shared.settings.policy.is_trusted_prompt(&id) => return Some(prompt),
            _ => *shared.lock_trusted_prompt() = None,
        }
    }
    let dbus = zbus::fdo::DBusProxy::new(conn).await.ok()?;
    let name = zbus::names::BusName::try_from(prompt::PROMPT_BUS_NAME).ok()?;
    let mut owner = dbus.get_name_owner(name.clone()).await.ok();
    if owner.is_none() {
        let activatable = dbus.list_activatable_names().await.unwrap_or_default();
        if activatable
            .iter()
            .any(|n| n.as_str() == prompt::PROMPT_BUS_NAME)
        {
            if let Ok(wk) = zbus::names::WellKnownName::try_from(prompt::PROMPT_BUS_NAME) {
                let _ = dbus.start_service_by_name(wk, 0).await;
            }
            owner = dbus.get_name_owner(name).await.ok();
        }
    }
    if let Some(owner) = owner {
        match shared.identify(conn, &owner).await {
            Ok(id)
                if shared.settings.policy.is_trusted_prompt(&id)
                    && (!shared.settings.policy.trusted_prompt_needs_bus_start(&id)
                        || started_by_the_bus(&dbus, &id).await) =>
            {
                let prompt = proxy(conn, owner.clone(), Trust::Trusted, None).await?;
                *shared.lock_trusted_prompt() = Some((owner, prompt.clone()));
                return Some(prompt);
            }
            Ok(id) => {
                tracing::warn!(owner = %owner, exe = ?id.executable, "ignoring an untrusted owner of dev.latchkey.Prompt")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot identify the owner of dev.latchkey.Prompt")
            }
        }
    }
    let agent = shared
        .lock_agents()
        .iter()
        .rev()
        .find(|agent| agent.serves(caller))
        .map(|agent| agent.name.clone());
    match agent {
        Some(a) => {
            let limit = shared.caller_prompt_answer();
            proxy(conn, a, Trust::CallerControlled, Some(limit)).await
        }
        None => None,
    }
}

/// Whether the session bus or the user's `systemd --user` started `id` (its parent process, read
/// while pinned and checked to still be its parent): what `bus_started = true` asks of a trusted
/// prompt, so that a process that merely runs the prompt's executable (and could be driven, or
/// have exec'd it after connecting) is not taken for the one the bus activated.
async fn started_by_the_bus(dbus: &zbus::fdo::DBusProxy<'_>, id: &CallerIdentity) -> bool {
    let Ok(parent) = crate::identity::identify_parent(id) else {
        return false;
    };
    let bus_pid = match zbus::names::BusName::try_from("org.freedesktop.DBus") {
        Ok(name) => dbus
            .get_connection_credentials(name)
            .await
            .ok()
            .and_then(|c| c.process_id()),
        Err(_) => None,
    };
    if let Some(bus_pid) = bus_pid {
        if parent.pid == bus_pid {
            return true;
        }
        // dbus-daemon runs an activated service under a babysitter, a fork of itself: the
        // parent's parent is the bus, and the parent runs the bus's executable.
        let bus_exe = std::fs::metadata(format!("/proc/{bus_pid}/exe"))
            .ok()
            .map(|m| {
                (
                    std::os::unix::fs::MetadataExt::dev(&m),
                    std::os::unix::fs::MetadataExt::ino(&m),
                )
            });
        if parent.ppid == bus_pid && bus_exe.is_some() && parent.executable_file == bus_exe {
            return true;
        }
    }
    // systemd --user runs in its unit's init.scope and starts a D-Bus service in a unit of its
    // own; a process orphaned to it (systemd --user is a subreaper) stays in its old scope.
    let systemd = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"]
        .iter()
        .any(|p| parent.executable_is(std::path::Path::new(p)));
    systemd
        && parent.systemd_unit.as_deref() == Some("init.scope")
        && id
            .systemd_unit
            .as_deref()
            .is_some_and(|u| u.ends_with(".service"))
}

async fn proxy(
    conn: &Connection,
    dest: OwnedUniqueName,
    trust: Trust,
    answer_within: Option<std::time::Duration>,
) -> Option<ChosenPrompt> {
    let proxy = prompt::Prompt1Proxy::builder(conn)
        .destination(dest)
        .ok()?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .ok()?;
    Some(ChosenPrompt {
        proxy,
        trust,
        answer_within,
    })
}
