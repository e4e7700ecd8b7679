// MAIN-world script, run at document_start: gives patch.js's latchkeyPatch a bridge that relays
// each call to the ISOLATED-world content script (content.js), which forwards it to the
// background script and the native host. browser/build.sh wraps this file and patch.js in one
// function scope (strict mode), so neither adds a global to the page.
{
  // --- the relay to the ISOLATED world ---------------------------------------------------
  // content.js hands over a per-page secret in a one-time DOM event; messages carry it.
  let secret = null;
  const waiting = [];
  // Posting to this very window: '*' only for an opaque origin (a sandboxed document), which no
  // other value matches; its requests then reach the background, which refuses them.
  const target = window.origin === 'null' ? '*' : window.origin;
  const post = (msg) => {
    if (secret === null) { waiting.push(msg); return; }
    window.postMessage({ latchkey: 'request', secret, msg }, target);
  };
  const onHello = (ev) => {
    if (secret !== null || typeof ev.detail !== 'string') return;
    secret = ev.detail;
    document.documentElement.removeEventListener('latchkey-hello', onHello, true);
    for (const m of waiting.splice(0)) post(m);
  };
  document.documentElement.addEventListener('latchkey-hello', onHello, true);
  window.dispatchEvent(new Event('latchkey-ready'));

  let nextId = 1;
  const calls = new Map(); // relay id → reply handler
  const relayIds = new Map(); // patch id → relay id, for cancel
  window.addEventListener('message', (ev) => {
    const d = ev.data;
    if (ev.source !== window || !d || d.latchkey !== 'response' || secret === null || d.secret !== secret) return;
    ev.stopImmediatePropagation();
    const call = calls.get(d.msg.id);
    if (!call) return;
    calls.delete(d.msg.id);
    call(d.msg);
  }, true);

  // One relay round trip; resolves to the bridge's {ok, value} / {ok: false, name, message}.
  const call = (msg, value, patchId) => new Promise((resolve) => {
    const id = nextId++;
    if (patchId !== undefined) relayIds.set(patchId, id);
    calls.set(id, (reply) => {
      if (patchId !== undefined) relayIds.delete(patchId);
      resolve(reply.type === 'error'
        ? { ok: false, name: reply.name, message: reply.message }
        : { ok: true, value: value(reply) });
    });
    post({ ...msg, id });
  });

  latchkeyPatch({
    create: (id, optionsJSON) => call({ type: 'create', options: JSON.parse(optionsJSON) }, (r) => r.response, id),
    get: (id, optionsJSON) => call({ type: 'get', options: JSON.parse(optionsJSON) }, (r) => r.response, id),
    cancel: (id) => {
      const relayId = relayIds.get(id);
      if (relayId === undefined) return;
      relayIds.delete(id);
      calls.delete(relayId);
      post({ id: relayId, type: 'cancel' });
    },
    capabilities: () => call({ type: 'getClientCapabilities' }, (r) => r.capabilities),
  });
}
