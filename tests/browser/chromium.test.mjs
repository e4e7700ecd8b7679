// End to end in Debian's Chromium, headless: the RP page's own JavaScript registers a passkey
// and signs in through the extension → native host → latchkeyd (platform authenticator), and
// python-fido2's server verifies both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, startRp, buildExtension, writeManifest, tempDir, ARTIFACTS, describeCredentialSource } from './harness.mjs';

let daemon, rp, context, page;

before(async () => {
  // Consent answers in order: register, sign in, refuse, then hang until dismissed.
  daemon = await startDaemon('approve\napprove\ndeny\nhang\npin 482916\n');
  rp = await startRp();
  const ext = buildExtension();
  const profile = tempDir('lk-chromium-');
  writeManifest(join(profile, 'NativeMessagingHosts'), 'chromium');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: false,
    ignoreDefaultArgs: ['--disable-extensions'],
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu',
      `--disable-extensions-except=${ext.chromium}`, `--load-extension=${ext.chromium}`,
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic',
    ],
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: daemon.address },
  });
  page = await context.newPage();
  await page.goto(rp.url);
  await page.waitForFunction(() => !String(navigator.credentials.create).includes('[native code]'), null, { timeout: 15000 });
});

after(async () => {
  await context?.close();
  rp?.stop();
  daemon?.stop();
});

test('the page registers a passkey and the RP verifies it', async () => {
  const r = await page.evaluate(`(async () => { const d = ${describeCredentialSource}; const { cred, done } = await window.rp.register(); return { ...d(cred), done }; })()`);
  assert.equal(r.done.ok, true);
  assert.equal(r.done.uv, true);
  assert.equal(r.instanceofPKC, true);
  assert.equal(r.instanceofResponse, true);
  assert.equal(r.type, 'public-key');
  assert.equal(r.rawIdIsBuffer, true);
  assert.equal(r.rawIdMatchesId, true);
  assert.equal(r.authenticatorAttachment, 'platform');
  assert.deepEqual(r.extensionResults, r.json.clientExtensionResults ?? {});
  assert.equal(r.json.id, r.id);
  assert.equal(r.json.type, 'public-key');
  assert.equal(typeof r.json.response.attestationObject, 'string');
  assert.equal(r.clientDataIsBuffer, true);
  assert.equal(r.clientData.type, 'webauthn.create');
  assert.equal(r.clientData.origin, rp.url.replace(/\/$/, ''));
  assert.ok(Array.isArray(r.transports));
  assert.deepEqual(r.transports, r.json.response.transports ?? []);
  assert.equal(r.publicKeyIsBuffer, true);
  assert.equal(r.publicKeyLength, 91); // P-256 SubjectPublicKeyInfo
  assert.equal(r.publicKeyAlgorithm, -7);
  assert.ok(r.authenticatorDataLength > 37);
  assert.equal(r.attestationObjectIsBuffer, true);
});

test('the page signs in and the RP verifies the assertion', async () => {
  const r = await page.evaluate(`(async () => { const d = ${describeCredentialSource}; const { cred, done } = await window.rp.signIn(); return { ...d(cred), done }; })()`);
  assert.deepEqual(r.done, { ok: true, user: 'alice' });
  assert.equal(r.instanceofPKC, true);
  assert.equal(r.instanceofResponse, true);
  assert.equal(r.clientData.type, 'webauthn.get');
  assert.equal(r.authenticatorDataLength, 37);
  assert.equal(r.signatureIsBuffer, true);
  assert.equal(r.userHandle, 'user-alice');
  assert.equal(r.authenticatorAttachment, 'platform');
  assert.equal(await page.textContent('#status'), 'Signed in as alice');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'chromium-signed-in.png') });
});

test('capabilities come from Latchkey', async () => {
  const r = await page.evaluate(async () => ({
    caps: await PublicKeyCredential.getClientCapabilities(),
    uvpaa: await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(),
  }));
  assert.equal(r.caps.userVerifyingPlatformAuthenticator, true);
  assert.equal(r.caps.hybridTransport, false);
  assert.equal(r.uvpaa, true);
});

const createIn = (rpId) => `(async () => {
  try {
    await navigator.credentials.create({ publicKey: {
      rp: { id: ${JSON.stringify(rpId)}, name: 'x' },
      user: { id: new Uint8Array([1, 2]), name: 'bob', displayName: 'Bob' },
      challenge: new Uint8Array(16), pubKeyCredParams: [{ type: 'public-key', alg: -7 }] } });
    return 'resolved';
  } catch (e) { return [e.constructor.name, e.name]; }
})()`;

test('a refused request rejects with NotAllowedError', async () => {
  assert.deepEqual(await page.evaluate(createIn('localhost')), ['DOMException', 'NotAllowedError']);
  assert.equal(daemon.prompt('Consent').length, 3);
});

test('an RP ID the origin may not use rejects with SecurityError', async () => {
  assert.deepEqual(await page.evaluate(createIn('example.com')), ['DOMException', 'SecurityError']);
  assert.equal(daemon.prompt('Consent').length, 3, 'refused before any prompt');
});

test('AbortSignal cancels the request in latchkeyd', async () => {
  await page.evaluate(() => {
    window.abort = new AbortController();
    window.aborted = navigator.credentials.get({ signal: window.abort.signal, publicKey: { challenge: new Uint8Array(16), rpId: 'localhost' } })
      .then(() => 'resolved', (e) => [e.constructor.name, e.name]);
  });
  await daemon.waitFor('Consent', 4);
  // latchkeyd dismisses the prompt after every request; the hanging one is not yet dismissed.
  const dismissed = daemon.prompt('Dismiss').length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(daemon.prompt('Dismiss').length, dismissed);
  await page.evaluate(() => window.abort.abort());
  assert.deepEqual(await page.evaluate(() => window.aborted), ['DOMException', 'AbortError']);
  await daemon.waitFor('Dismiss', dismissed + 1);
});

test('password and conditional requests go to the browser untouched', async () => {
  const r = await page.evaluate(async () => {
    const c = new AbortController();
    const conditional = navigator.credentials.get({ mediation: 'conditional', signal: c.signal, publicKey: { challenge: new Uint8Array(16) } }).catch((e) => e.name);
    c.abort();
    return { password: await navigator.credentials.get({ password: true }).then((x) => x, (e) => e.name), conditional: await conditional };
  });
  assert.equal(r.password, null);
  assert.equal(r.conditional, 'AbortError');
  // Neither reached latchkeyd's prompt.
  assert.equal(daemon.prompt('Consent').length, 4);
});
