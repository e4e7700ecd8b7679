// The Electron bridge: its main-process module (main.js) talks to latchkeyd over D-Bus with
// dbus-next, and its renderer patch (patch.js, what preload.js installs) routes a Chromium page's
// navigator.credentials calls through the IPC handlers to it. python-fido2's server verifies.
// Node plays the Electron app: policy makes /usr/bin/node the privileged client here (a real app
// is bound to its RP IDs by an [[app]] policy entry instead).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startDaemon, startRp, tempDir, ROOT } from './harness.mjs';

const require = createRequire(import.meta.url);
const { LatchkeyClient, registerLatchkeyIpc } = require(`${ROOT}/bridges/electron/main.js`);
const { latchkeyPatch } = require(`${ROOT}/bridges/electron/patch.js`);
const dbus = require(`${ROOT}/bridges/electron/node_modules/dbus-next`);

let daemon, rp, client;
const b64d = (s) => Buffer.from(s, 'base64url');

before(async () => {
  daemon = await startDaemon('approve\npin 482916\n', [realpathSync(process.execPath)]);
  rp = await startRp();
  client = new LatchkeyClient({ address: daemon.address });
});

after(() => {
  client?.disconnect();
  rp?.stop();
  daemon?.stop();
});

async function rpPost(path, body) {
  const r = await fetch(new URL(path, rp.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j;
}

test('main.js registers and signs in through latchkeyd; the RP verifies both', async () => {
  const origin = rp.url.replace(/\/$/, '');
  const reg = await client.run('create', await rpPost('/register/begin'), { origin });
  assert.equal(reg.type, 'public-key');
  assert.equal(JSON.parse(b64d(reg.response.clientDataJSON)).origin, origin);
  assert.deepEqual(await rpPost('/register/complete', reg), { ok: true, uv: true });
  const auth = await client.run('get', await rpPost('/login/begin'), { origin });
  assert.equal(auth.id, reg.id);
  assert.deepEqual(await rpPost('/login/complete', auth), { ok: true, user: 'alice' });
  const caps = await client.capabilities();
  assert.equal(caps.userVerifyingPlatformAuthenticator, true);
});

test('the preload patch in a Chromium page routes calls through the IPC handlers', async () => {
  // A fresh RP (the first test's credential would be excluded).
  rp.stop();
  rp = await startRp();
  // A stand-in for Electron's ipcMain: handlers keyed by channel, events carrying the frame.
  const handlers = new Map();
  const ipcMain = { handle: (ch, f) => handlers.set(ch, f), on: (ch, f) => handlers.set(ch, f) };
  registerLatchkeyIpc(ipcMain, { allowedOrigins: [rp.url.replace(/\/$/, '')], client });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    const calls = [];
    await page.exposeFunction('__lkIpc', (channel, ...args) => {
      calls.push(channel);
      const origin = new URL(page.url()).origin;
      const event = { sender: { id: 1 }, senderFrame: { url: page.url(), origin, top: { url: page.url(), origin } } };
      return handlers.get(channel)(event, ...args);
    });
    await page.addInitScript(`
      window.__latchkeyBridge = {
        create: (id, j) => window.__lkIpc('latchkey:create', id, j),
        get: (id, j) => window.__lkIpc('latchkey:get', id, j),
        cancel: (id) => { window.__lkIpc('latchkey:cancel', id); },
        capabilities: () => window.__lkIpc('latchkey:capabilities'),
      };
      (${latchkeyPatch.toString()})(window.__latchkeyBridge);`);
    await page.goto(rp.url);
    const r = await page.evaluate(async () => {
      const reg = await window.rp.register();
      const auth = await window.rp.signIn();
      return {
        reg: reg.done, auth: auth.done,
        isPKC: auth.cred instanceof PublicKeyCredential,
        alg: reg.cred.response.getPublicKeyAlgorithm(),
        uvpaa: await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(),
        status: document.getElementById('status').textContent,
      };
    });
    assert.deepEqual(r, { reg: { ok: true, uv: true }, auth: { ok: true, user: 'alice' }, isPKC: true, alg: -7, uvpaa: true, status: 'Signed in as alice' });
    assert.deepEqual(calls, ['latchkey:create', 'latchkey:get', 'latchkey:capabilities']);

    // An origin the app did not allow is refused before latchkeyd is asked.
    const consents = daemon.prompt('Consent').length;
    await page.goto(rp.url.replace('localhost', '127.0.0.1'));
    const refused = await page.evaluate(() => navigator.credentials.get({ publicKey: { challenge: new Uint8Array(16), rpId: '127.0.0.1' } }).then(() => 'resolved', (e) => e.name));
    assert.equal(refused, 'NotAllowedError');
    assert.equal(daemon.prompt('Consent').length, consents);
  } finally {
    await browser.close();
  }
});

test("main.js takes the frame's origin from Electron, so a sandboxed document is refused though its URL is allowed", async () => {
  const handlers = new Map();
  const ipcMain = { handle: (ch, f) => handlers.set(ch, f), on: (ch, f) => handlers.set(ch, f) };
  const origin = rp.url.replace(/\/$/, '');
  registerLatchkeyIpc(ipcMain, { allowedOrigins: [origin], client });
  // What Electron's WebFrameMain reports for a document under `Content-Security-Policy: sandbox`.
  const frame = { url: `${origin}/sandboxed`, origin: 'null', top: { url: `${origin}/sandboxed`, origin: 'null' } };
  const consents = daemon.prompt('Consent').length;
  const options = JSON.stringify({ challenge: 'AAAAAAAAAAAAAAAAAAAAAA', rpId: 'localhost' });
  const r = await handlers.get('latchkey:get')({ sender: { id: 2 }, senderFrame: frame }, 1, options);
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.equal(r.name, 'NotAllowedError');
  // A frame whose top Electron cannot name is refused too.
  const orphan = { url: `${origin}/app`, origin, top: null };
  const r2 = await handlers.get('latchkey:get')({ sender: { id: 2 }, senderFrame: orphan }, 2, options);
  assert.equal(r2.name, 'NotAllowedError', JSON.stringify(r2));
  assert.equal(daemon.prompt('Consent').length, consents, 'refused before the prompt');
});

test('main.js takes no Response from a peer that is not latchkeyd, even on its own handle', async () => {
  // latchkeyd's prompt never answers, so latchkeyd sends no Response of its own.
  const held = await startDaemon('hang\n', [realpathSync(process.execPath)]);
  const victim = new LatchkeyClient({ address: held.address });
  const forger = dbus.sessionBus({ busAddress: held.address });
  try {
    const origin = 'https://example.com';
    const options = { challenge: 'AAAAAAAAAAAAAAAAAAAAAA', rp: { id: 'example.com', name: 'x' }, user: { id: 'AQID', name: 'a', displayName: 'a' }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }] };
    const ac = new AbortController();
    const run = victim.run('create', options, { origin }, ac.signal).then((v) => ({ value: v }), (e) => ({ error: e }));
    await held.waitFor('Consent', 1);
    // The handle is the one latchkeyd answered with; a peer that watches the bus sees it too.
    const [handle] = [...victim.waiting.keys()];
    assert.ok(handle, 'the request is waiting');
    const forged = { registration_response_json: new dbus.Variant('s', JSON.stringify({ id: 'forged', rawId: 'forged', type: 'public-key', response: {} })) };
    const me = await victim.ready();
    for (const destination of [me, undefined]) {
      await forger.send(new dbus.Message({ type: dbus.MessageType.SIGNAL, destination, path: handle, interface: 'dev.latchkey.Request1', member: 'Response', signature: 'ua{sv}', body: [0, forged] }));
    }
    // Round trips through the bus by the forger, then by the victim: the forged signals reached
    // the victim before its own reply, and it handles messages in order.
    for (const conn of [forger, victim.bus]) {
      await conn.call(new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetId' }));
    }
    ac.abort();
    const out = await run;
    assert.equal(out.value, undefined, `the forged Response was taken: ${JSON.stringify(out.value)}`);
    assert.equal(out.error.name, 'AbortError', JSON.stringify(out.error));
  } finally {
    forger.disconnect();
    victim.disconnect();
    held.stop();
  }
});
