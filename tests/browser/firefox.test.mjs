// End to end in Debian's Firefox ESR, headless: `latchkey browser install --browser firefox`
// writes the native messaging manifest into a temp HOME, the unsigned .xpi is side-loaded into a
// fresh profile, and the RP page's own JavaScript registers a passkey and signs in through the
// extension → native host (started by firefox-esr) → latchkeyd (platform authenticator).
// python-fido2's server verifies both; its /status says so. Driven over Marionette.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, startRp, buildExtension, tempDir, ARTIFACTS, HOST, LATCHKEY, FIREFOX_EXTENSION_ID, describeCredentialSource } from './harness.mjs';
import { FIREFOX, writeProfile, launchFirefox } from './firefox.mjs';

let daemon, rp, firefox, m, home, profile, installed;

before(async () => {
  // Consent answers in order: register, sign in, refuse, then hang until dismissed.
  daemon = await startDaemon('approve\napprove\ndeny\nhang\npin 482916\n', [HOST], [FIREFOX]);
  rp = await startRp();
  const ext = buildExtension();
  home = tempDir('lk-firefox-home-');
  // The manifest, written by the command a user runs; the host is the one next to `latchkey`.
  installed = JSON.parse(execFileSync(LATCHKEY, ['browser', 'install', '--browser', 'firefox', '--json'], {
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
    encoding: 'utf8',
  }));
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = join(ARTIFACTS, 'firefox.log');
  writeFileSync(log, '');
  profile = writeProfile(ext.xpi);
  firefox = await launchFirefox(profile, {
    PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), TMPDIR: home,
    DBUS_SESSION_BUS_ADDRESS: daemon.address, LANG: 'C.UTF-8',
  }, log);
  m = firefox.marionette;
  await m.navigate(rp.url);
  const start = Date.now();
  while (await m.execute('return String(navigator.credentials.create).includes("[native code]")')) {
    if (Date.now() - start > 15000) throw new Error('the extension did not patch navigator.credentials');
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  await firefox?.stop();
  rp?.stop();
  daemon?.stop();
  for (const d of [profile, home]) if (d) rmSync(d, { recursive: true, force: true });
});

async function rpStatus() {
  return (await fetch(new URL('/status', rp.url))).json();
}

// Runs `expr` (an expression yielding a promise) in the page's own realm (Marionette's script
// sandbox has its own ArrayBuffer, so `instanceof` would compare across realms); returns its
// value or {error, name}.
function inPage(expr) {
  return m.executeAsync(`const [expr, done] = arguments;
    Promise.resolve().then(() => window.eval(expr)).then(done, (e) => done({ error: String(e), name: e && e.name }));`, [expr]);
}

test('latchkey browser install wrote the Firefox manifest naming the native host', () => {
  const manifest = join(home, '.mozilla/native-messaging-hosts/dev.latchkey.native_host.json');
  assert.deepEqual(installed, { host: HOST, installed: [{ browser: 'firefox', manifest }] });
  assert.deepEqual(JSON.parse(readFileSync(manifest, 'utf8')), {
    name: 'dev.latchkey.native_host',
    description: 'Latchkey passkeys for the web',
    path: HOST,
    type: 'stdio',
    allowed_extensions: [FIREFOX_EXTENSION_ID],
  });
});

test('Firefox: the page registers a passkey and the RP verifies it', async () => {
  assert.deepEqual(await rpStatus(), { credentials: 0, signed_in: null });
  const r = await inPage(`(async () => { const d = ${describeCredentialSource}; const { cred, done } = await window.rp.register(); return { ...d(cred), done }; })()`);
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.deepEqual(r.done, { ok: true, uv: true });
  // The RP stored the credential it verified.
  assert.deepEqual(await rpStatus(), { credentials: 1, signed_in: null });
  assert.equal(r.instanceofPKC, true);
  assert.equal(r.instanceofResponse, true);
  assert.equal(r.rawIdIsBuffer, true);
  assert.equal(r.rawIdMatchesId, true);
  assert.equal(r.clientDataIsBuffer, true);
  assert.equal(r.attestationObjectIsBuffer, true);
  assert.equal(r.publicKeyIsBuffer, true);
  assert.equal(r.authenticatorAttachment, 'platform');
  assert.equal(r.clientData.type, 'webauthn.create');
  assert.equal(r.clientData.origin, rp.url.replace(/\/$/, ''));
  assert.equal(r.publicKeyLength, 91);
  assert.equal(r.publicKeyAlgorithm, -7);
  // latchkeyd saw a privileged browser's native host vouch for the page's origin.
  const [consent] = daemon.prompt('Consent');
  assert.equal(consent.details.kind, 'create');
  assert.equal(consent.details.origin, rp.url.replace(/\/$/, ''));
  assert.equal(consent.details.rp_id, 'localhost');
  assert.equal(consent.details.native_host, HOST);
  assert.equal(consent.details.caller_verified, true);
});

test('Firefox: the page signs in, the RP verifies the assertion, and a screenshot shows it', async () => {
  const r = await inPage(`(async () => { const d = ${describeCredentialSource}; const { cred, done } = await window.rp.signIn(); return { ...d(cred), done }; })()`);
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.deepEqual(r.done, { ok: true, user: 'alice' });
  assert.deepEqual(await rpStatus(), { credentials: 1, signed_in: 'alice' });
  assert.equal(r.clientData.type, 'webauthn.get');
  assert.equal(r.userHandle, 'user-alice');
  assert.equal(r.signatureIsBuffer, true);
  assert.equal(await m.execute('return document.getElementById("status").textContent'), 'Signed in as alice');

  const png = await m.screenshot();
  const file = join(ARTIFACTS, 'firefox-signed-in.png');
  writeFileSync(file, png);
  const saved = readFileSync(file);
  assert.deepEqual([...saved.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(saved.subarray(12, 16).toString('ascii'), 'IHDR');
  assert.ok(saved.readUInt32BE(16) > 0 && saved.readUInt32BE(20) > 0, 'non-empty image');
  assert.ok(saved.length > 1000, `${saved.length} bytes`);
});

test('Firefox: capabilities come from Latchkey', async () => {
  const r = await inPage(`(async () => ({
    caps: await PublicKeyCredential.getClientCapabilities(),
    uvpaa: await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(),
  }))()`);
  assert.equal(r.caps.userVerifyingPlatformAuthenticator, true);
  assert.equal(r.caps.hybridTransport, false);
  assert.equal(r.uvpaa, true);
});

const createIn = (rpId) => `navigator.credentials.create({ publicKey: {
  rp: { id: ${JSON.stringify(rpId)}, name: 'x' },
  user: { id: new Uint8Array([1, 2]), name: 'bob', displayName: 'Bob' },
  challenge: new Uint8Array(16), pubKeyCredParams: [{ type: 'public-key', alg: -7 }] } })
  .then(() => 'resolved', (e) => [e.constructor.name, e.name])`;

test('Firefox: a refused request rejects with NotAllowedError; a foreign RP ID with SecurityError', async () => {
  assert.deepEqual(await inPage(createIn('localhost')), ['DOMException', 'NotAllowedError']);
  assert.equal(daemon.prompt('Consent').length, 3);
  assert.deepEqual(await inPage(createIn('example.com')), ['DOMException', 'SecurityError']);
  assert.equal(daemon.prompt('Consent').length, 3, 'refused before any prompt');
  assert.deepEqual(await rpStatus(), { credentials: 1, signed_in: 'alice' });
});

test('Firefox: AbortSignal cancels the request in latchkeyd', async () => {
  await inPage(`(() => {
    window.abort = new AbortController();
    window.aborted = navigator.credentials.get({ signal: window.abort.signal, publicKey: { challenge: new Uint8Array(16), rpId: 'localhost' } })
      .then(() => 'resolved', (e) => [e.constructor.name, e.name]);
    return true;
  })()`);
  await daemon.waitFor('Consent', 4);
  const dismissed = daemon.prompt('Dismiss').length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(daemon.prompt('Dismiss').length, dismissed, 'still waiting on the prompt');
  assert.deepEqual(await inPage('(window.abort.abort(), window.aborted)'), ['DOMException', 'AbortError']);
  await daemon.waitFor('Dismiss', dismissed + 1);
});
