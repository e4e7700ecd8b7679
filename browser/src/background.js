// Background worker: the only part that talks to the native host. The origin and top origin it
// sends come from the browser's sender information (sender.origin / sender.url, sender.tab,
// sender.frameId), never from the page.
'use strict';
const api = globalThis.browser ?? globalThis.chrome;
const HOST = 'dev.latchkey.native_host';

let port = null;
let nextId = 1;
const pending = new Map(); // host request id → {sendResponse, tabPort}

function connect() {
  if (port) return port;
  port = api.runtime.connectNative(HOST);
  port.onMessage.addListener((msg) => {
    if (msg && msg.id == null && msg.type === 'error') {
      for (const [, p] of pending) p.reply({ type: 'error', name: msg.name, message: msg.message });
      pending.clear();
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

function originOf(url) {
  try { return new URL(url).origin; } catch { return null; }
}

// Each content script connects a port per page; requests and cancels travel over it.
api.runtime.onConnect.addListener((tabPort) => {
  if (tabPort.name !== 'latchkey') return;
  const sender = tabPort.sender;
  const origin = sender.origin ?? originOf(sender.url);
  const top = sender.frameId === 0 ? origin : (sender.tab ? originOf(sender.tab.url) : null);
  const mine = new Map(); // page request id → host request id
  tabPort.onMessage.addListener((msg) => {
    if (!msg || typeof msg !== 'object') return;
    const pageId = msg.id;
    if (msg.type === 'cancel') {
      const hostId = mine.get(pageId);
      if (hostId !== undefined) connect().postMessage({ id: hostId, type: 'cancel' });
      return;
    }
    const reply = (r) => {
      mine.delete(pageId);
      try { tabPort.postMessage({ ...r, id: pageId }); } catch { /* the page went away */ }
    };
    if (!origin || origin === 'null') {
      reply({ type: 'error', name: 'SecurityError', message: 'opaque origin' });
      return;
    }
    const hostId = nextId++;
    mine.set(pageId, hostId);
    pending.set(hostId, { reply });
    const out = { id: hostId, type: msg.type };
    if (msg.type === 'create' || msg.type === 'get') {
      out.options = msg.options;
      out.origin = origin;
      if (top) out.topOrigin = top;
    } else if (msg.type !== 'getClientCapabilities') {
      pending.delete(hostId);
      reply({ type: 'error', name: 'TypeError', message: 'unknown request' });
      return;
    }
    connect().postMessage(out);
  });
  tabPort.onDisconnect.addListener(() => {
    for (const [, hostId] of mine) {
      if (port) port.postMessage({ id: hostId, type: 'cancel' });
      pending.delete(hostId);
    }
    mine.clear();
  });
});
