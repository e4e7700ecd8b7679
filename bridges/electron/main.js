// Main-process half of the Latchkey Electron bridge: talks to latchkeyd
// (dev.latchkey.Credentials1, data/dev.latchkey.Credentials1.xml) over the session bus with
// dbus-next, following the portal request convention (subscribe to Response on the predicted
// handle, then call), and serves the preload script's IPC calls for the origins the app allows.
// Requests go to the owner of dev.latchkey.Credentials only once the kernel says it is latchkeyd
// (latchkeyd.js), and only that unique name's Response is taken: any peer on the bus can emit a
// signal with any path, and one watching the bus could otherwise answer a request first.
'use strict';
const crypto = require('node:crypto');
const dbus = require('dbus-next');
const { verifiedOwner } = require('./latchkeyd.js');

const PATH = '/dev/latchkey/Credentials';
const IFACE = 'dev.latchkey.Credentials1';
const { Message, Variant } = dbus;

// Whether a failed call means its destination left the bus (latchkeyd restarted).
const destinationGone = (e) => ['org.freedesktop.DBus.Error.ServiceUnknown', 'org.freedesktop.DBus.Error.NameHasNoOwner'].includes(e?.type);

class LatchkeyClient {
  // `address`: a D-Bus address (default: DBUS_SESSION_BUS_ADDRESS).
  constructor({ address } = {}) {
    this.bus = dbus.sessionBus(address ? { busAddress: address } : {});
    this.waiting = new Map(); // handle path → resolve
    this.owner = null; // the verified latchkeyd's unique name
    this.bus.on('message', (msg) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== 'dev.latchkey.Request1' || msg.member !== 'Response') return;
      // Another peer's signal: a forgery, or a latchkeyd since replaced.
      if (!this.owner || msg.sender !== this.owner) return;
      const done = this.waiting.get(msg.path);
      if (!done) return;
      this.waiting.delete(msg.path);
      const [code, results] = msg.body;
      const out = {};
      for (const [k, v] of Object.entries(results)) out[k] = v.value;
      done({ code, results: out });
    });
  }

  async ready() {
    if (!this.bus.name) await new Promise((r) => this.bus.once('connect', r));
    return this.bus.name;
  }

  // The unique name of latchkeyd (verified once, again when `again` or after it left the bus).
  async latchkeyd(again = false) {
    await this.ready();
    if (!this.owner || again) this.owner = await verifiedOwner(this.bus);
    return this.owner;
  }

  async call(member, signature, body) {
    const send = async (destination) => (await this.bus.call(new Message({ destination, path: PATH, interface: IFACE, member, signature, body }))).body;
    try {
      return await send(await this.latchkeyd());
    } catch (e) {
      if (!destinationGone(e)) throw e;
      return send(await this.latchkeyd(true));
    }
  }

  // Starts create/get; returns {handle, response: Promise<{code, results}>}.
  async start(kind, optionsJSON, { origin, topOrigin } = {}) {
    const me = await this.ready();
    // 128 random bits: no other peer can predict the handle.
    const token = `lk${crypto.randomBytes(16).toString('hex')}`;
    const handle = `/dev/latchkey/Credentials/request/${me.replace(/^:/, '').replace(/\./g, '_')}/${token}`;
    const rule = `type='signal',interface='dev.latchkey.Request1',member='Response',path='${handle}'`;
    await this.bus.call(new Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] }));
    const response = new Promise((resolve) => this.waiting.set(handle, resolve));
    const opts = { handle_token: new Variant('s', token) };
    if (origin) opts.origin = new Variant('s', origin);
    if (topOrigin) opts.top_origin = new Variant('s', topOrigin);
    const member = kind === 'create' ? 'CreateCredential' : 'GetCredential';
    let got;
    try {
      [got] = await this.call(member, 'ssa{sv}', ['', typeof optionsJSON === 'string' ? optionsJSON : JSON.stringify(optionsJSON), opts]);
    } catch (e) {
      this.waiting.delete(handle);
      throw e;
    }
    return { handle: got, response };
  }

  // Runs create/get to its end: resolves to the response JSON object, or rejects with
  // {name, message} (a DOMException name).
  async run(kind, optionsJSON, opts, signal) {
    const { handle, response } = await this.start(kind, optionsJSON, opts);
    let onAbort;
    const aborted = new Promise((resolve) => {
      onAbort = () => resolve({ aborted: true });
      if (signal) { if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true }); }
    });
    const out = await Promise.race([response, aborted]);
    if (signal) signal.removeEventListener('abort', onAbort);
    if (out.aborted) {
      this.waiting.delete(handle);
      await this.bus.call(new Message({ destination: this.owner, path: handle, interface: 'dev.latchkey.Request1', member: 'Close' }));
      throw { name: 'AbortError', message: 'the request was aborted' };
    }
    if (out.code === 0) {
      return JSON.parse(out.results.registration_response_json ?? out.results.authentication_response_json);
    }
    throw { name: out.results.error ?? 'NotAllowedError', message: out.results.message ?? '' };
  }

  async capabilities() {
    const [caps] = await this.call('GetClientCapabilities', '', []);
    return caps;
  }

  disconnect() { this.bus.disconnect(); }
}

// Serves the preload script. `allowedOrigins`: the web origins (e.g. 'https://teams.microsoft.com')
// whose frames may use passkeys; the origin comes from Electron's own frame information
// (WebFrameMain.origin, never the URL: a sandboxed document's URL names a site its opaque origin
// is not), and so does the top frame's.
function registerLatchkeyIpc(ipcMain, { allowedOrigins, client = new LatchkeyClient() }) {
  const allowed = new Set(allowedOrigins);
  const inFlight = new Map(); // `${webContentsId}:${id}` → AbortController
  const originOf = (event) => {
    const frame = event.senderFrame;
    const origin = frame && typeof frame.origin === 'string' && frame.origin !== 'null' ? frame.origin : null;
    if (!origin || !allowed.has(origin)) throw { name: 'NotAllowedError', message: `origin ${origin} may not use passkeys in this app` };
    const top = frame.top && typeof frame.top.origin === 'string' && frame.top.origin !== 'null' ? frame.top.origin : null;
    if (!top) throw { name: 'NotAllowedError', message: 'the top-level origin is unknown or opaque' };
    return { origin, topOrigin: top };
  };
  const wrap = (f) => async (event, ...args) => {
    try { return { ok: true, value: await f(event, ...args) }; } catch (e) {
      return { ok: false, name: e.name ?? 'UnknownError', message: e.message ?? String(e) };
    }
  };
  for (const kind of ['create', 'get']) {
    ipcMain.handle(`latchkey:${kind}`, wrap(async (event, id, optionsJSON) => {
      const opts = originOf(event);
      const key = `${event.sender.id}:${id}`;
      const ac = new AbortController();
      inFlight.set(key, ac);
      try { return await client.run(kind, optionsJSON, opts, ac.signal); } finally { inFlight.delete(key); }
    }));
  }
  ipcMain.on('latchkey:cancel', (event, id) => inFlight.get(`${event.sender.id}:${id}`)?.abort());
  ipcMain.handle('latchkey:capabilities', wrap(async (event) => { originOf(event); return client.capabilities(); }));
  return client;
}

module.exports = { LatchkeyClient, registerLatchkeyIpc };
