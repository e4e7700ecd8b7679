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
    // On a bus the owner of `dev.latchkey.Prompt` (activated if need be); over a peer-to-peer
    // connection the peer (`crate::identity::port`).
    let owner = shared.callers.prompt_owner(conn).await;
    if let Some(owner) = owner {
        match shared.identify(conn, &owner).await {
            Ok(id)
                if shared.settings.policy.is_trusted_prompt(&id)
                    && (!shared.settings.policy.trusted_prompt_needs_bus_start(&id)
                        || shared
                            .callers
                            .started_by_the_bus(conn, id.pid, id.start_time)
                            .await) =>
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
        version: std::sync::Arc::default(),
        cancels: std::sync::Arc::default(),
    })
}
