// Background worker: the only part that talks to the native host. The origin and top origin it
// sends come from the browser (sender.origin of the requesting frame, and of the top frame, which
// answers a question about itself), never from the page. policy.js decides whether a request may
// go at all; each frame has at most one create/get in flight, a new one aborting the one before
// (as browsers do). See browser/SECURITY.md.
'use strict';
if (typeof importScripts === 'function') importScripts('policy.js');
const api = globalThis.browser ?? globalThis.chrome;
const HOST = 'dev.latchkey.native_host';
const { decide } = globalThis.latchkeyPolicy;
// How long the top frame (or an embedder) has to answer before the request is refused.
const ASK_TIMEOUT_MS = 5000;

let port = null;
let nextId = 1;
const pending = new Map(); // host request id → {reply}

function connect() {
  if (port) return port;
  port = api.runtime.connectNative(HOST);
  port.onMessage.addListener((msg) => {
    if (!msg || typeof msg !== 'object') return;
    // A reply without an id answers no request of ours (the host could not read one): it is
    // logged, never fanned out to every tab's requests.
    if (msg.id == null) {
      console.warn('latchkey: the native host replied without a request id:', msg.name, msg.message);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    p.reply(msg);
  });
  port.onDisconnect.addListener(() => {
    const err = api.runtime.lastError;
    for (const [, p] of pending) {
      p.reply({ type: 'error', name: 'NotAllowedError', message: 'Latchkey is unavailable' + (err ? ': ' + err.message : '') });
    }
    pending.clear();
    port = null;
  });
  return port;
}

// --- questions to the tab's own frames ------------------------------------------------------
const waiters = new Map(); // nonce → {tabId, resolve}
api.runtime.onMessage.addListener((m, sender) => {
  if (!m || m.latchkey !== 'top' || !waiters.has(m.nonce)) return undefined;
  const w = waiters.get(m.nonce);
  if (sender.id !== api.runtime.id || !sender.tab || sender.tab.id !== w.tabId || sender.frameId !== 0) return undefined;
  waiters.delete(m.nonce);
  w.resolve({ origin: sender.origin, focused: m.focused === true, visible: m.visible === true });
  return undefined;
});

const timeout = (ms) => new Promise((resolve) => { setTimeout(() => resolve(null), ms); });

// The tab's top frame as the browser knows it: {origin (its sender.origin), focused, visible},
// or null when it has no content script of ours or does not answer.
function askTop(tabId) {
  const nonce = crypto.randomUUID();
  const answered = new Promise((resolve) => { waiters.set(nonce, { tabId, resolve }); });
  const sent = api.tabs.sendMessage(tabId, { latchkey: 'top?', nonce }, { frameId: 0 }).then(() => answered, () => null);
  return Promise.race([sent, timeout(ASK_TIMEOUT_MS)]).finally(() => waiters.delete(nonce));
}

// The iframe elements from the frame up to the top (Firefox: for the allow attributes).
function askContainers(tabId, frameId, embedders) {
  if (!Array.isArray(embedders) || embedders.length === 0 || embedders.length > 32) return Promise.resolve(null);
  const children = [frameId, ...embedders.slice(0, -1)];
  return Promise.all(embedders.map((parent, i) => Promise.race([
    api.tabs.sendMessage(tabId, { latchkey: 'container?', child: children[i] }, { frameId: parent }).catch(() => null),
    timeout(ASK_TIMEOUT_MS),
  ]).then((v) => v ?? null)));
}

// --- requests from pages ----------------------------------------------------------------------
// Each content script connects a port per document; requests and cancels travel over it. A
// document has at most one create/get: a new one aborts the one before at once (the page gets
// AbortError), and goes to the host only once the host has answered the old one's cancel, so
// latchkeyd never holds two requests of one document.
api.runtime.onConnect.addListener((tabPort) => {
  if (tabPort.name !== 'latchkey') return;
  const sender = tabPort.sender;
  let open = true;
  let current = null; // this document's live create/get: {pageId, reply, hostId, aborted}
  let previous = Promise.resolve(); // settles when the host has answered the last one sent
  const replyTo = (pageId) => (r) => {
    try { tabPort.postMessage({ ...r, id: pageId }); } catch { /* the page went away */ }
  };
  // Ends `call` for the page with `r`; the host's own answer, if it is still to come, is drained.
  const finish = (call, r) => {
    if (call.aborted) return;
    call.aborted = true;
    if (current === call) current = null;
    call.reply(r);
  };
  const abort = (call, message) => {
    if (call.hostId !== undefined && port && !call.answered) port.postMessage({ id: call.hostId, type: 'cancel' });
    finish(call, { type: 'error', name: 'AbortError', message });
  };
  const send = (out, onReply) => {
    const hostId = nextId++;
    pending.set(hostId, { reply: onReply });
    connect().postMessage({ ...out, id: hostId });
    return hostId;
  };

  tabPort.onMessage.addListener(async (msg) => {
    if (!msg || typeof msg !== 'object') return;
    const pageId = msg.id;
    const reply = replyTo(pageId);
    if (msg.type === 'cancel') {
      if (current && current.pageId === pageId) abort(current, 'the request was aborted');
      return;
    }
    if (msg.type === 'getClientCapabilities') {
      if (!globalThis.latchkeyPolicy.webOrigin(sender.origin)) {
        reply({ type: 'error', name: 'NotAllowedError', message: 'the document has an opaque origin' });
      } else {
        send({ type: 'getClientCapabilities' }, reply);
      }
      return;
    }
    if (msg.type !== 'create' && msg.type !== 'get') {
      reply({ type: 'error', name: 'TypeError', message: 'unknown request' });
      return;
    }
    if (current) abort(current, 'a newer request from this document replaced it');
    const call = { pageId, reply, aborted: false, answered: false };
    current = call;
    const context = msg.context && typeof msg.context === 'object' ? msg.context : {};
    const tabId = sender.tab ? sender.tab.id : undefined;
    const [top, containers] = sender.frameId !== 0 && tabId !== undefined
      ? await Promise.all([askTop(tabId), context.policy ? null : askContainers(tabId, sender.frameId, context.embedders)])
      : [null, null];
    if (call.aborted || !open) return;
    const r = decide({
      kind: msg.type, options: msg.options, origin: sender.origin, frameId: sender.frameId,
      tabActive: sender.tab ? sender.tab.active : undefined, context, top, containers,
    });
    if (!r.ok) {
      finish(call, { type: 'error', name: r.name, message: r.message });
      return;
    }
    await previous;
    if (call.aborted || !open) return;
    let settled;
    previous = new Promise((resolve) => { settled = resolve; });
    call.hostId = send({ type: msg.type, options: msg.options, origin: sender.origin, topOrigin: r.topOrigin }, (res) => {
      call.answered = true;
      settled();
      finish(call, res);
    });
  });
  tabPort.onDisconnect.addListener(() => {
    open = false;
    if (current) abort(current, 'the document went away');
  });
});
