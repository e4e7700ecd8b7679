// browser/build.sh: what each browser gets, and that the extension and the Electron bridge run
// one navigator.credentials patch (browser/src/patch.js), so the two cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { buildExtension, ROOT, FIREFOX_EXTENSION_ID } from './harness.mjs';

const require = createRequire(import.meta.url);
const patchSource = readFileSync(join(ROOT, 'browser/src/patch.js'), 'utf8');
const ext = buildExtension();
const out = join(ext.chromium, '..');

test('the Electron bridge and the extension share browser/src/patch.js', () => {
  const shared = require(join(ROOT, 'browser/src/patch.js')).latchkeyPatch;
  assert.equal(typeof shared, 'function');
  // In the repository the bridge requires the shared file; the packaged bridge carries a copy.
  assert.equal(require(join(ROOT, 'bridges/electron/patch.js')).latchkeyPatch, shared);
  assert.equal(readFileSync(join(out, 'electron/patch.js'), 'utf8'), patchSource);
  assert.deepEqual(readdirSync(join(out, 'electron')).sort(), ['README.md', 'main.js', 'package.json', 'patch.js', 'preload.js']);
  for (const b of ['chromium', 'firefox']) {
    const page = readFileSync(join(out, b, 'page.js'), 'utf8');
    assert.ok(page.includes(shared.toString()), `${b}/page.js embeds the shared patch`);
    assert.ok(!page.includes('module.exports'), `${b}/page.js has no CommonJS export`);
  }
});

test('the built page script patches navigator.credentials and adds no global', () => {
  // A stand-in main world with just what the script touches at load.
  const listeners = [];
  const target = { addEventListener: (t) => listeners.push(t), removeEventListener() {}, dispatchEvent() {} };
  class PublicKeyCredential {}
  const credentials = { create: () => 'native create', get: () => 'native get' };
  const window = { ...target, navigator: { credentials }, PublicKeyCredential, location: { origin: 'https://a.example' }, postMessage() {} };
  const ctx = vm.createContext({ window, navigator: window.navigator, document: { documentElement: target }, Event: class { constructor(t) { this.type = t; } }, DOMException: Error });
  const before = Object.keys(ctx).sort();
  const nativeCreate = credentials.create;
  vm.runInContext(readFileSync(join(out, 'firefox/page.js'), 'utf8'), ctx);
  assert.deepEqual(Object.keys(ctx).sort(), before);
  assert.notEqual(credentials.create, nativeCreate);
  assert.equal(credentials.create({ mediation: 'conditional', publicKey: {} }), 'native create');
  assert.equal(typeof PublicKeyCredential.getClientCapabilities, 'function');
  // Passwords go to the browser untouched.
  assert.equal(credentials.get({ password: true }), 'native get');
  assert.deepEqual(listeners.sort(), ['latchkey-hello', 'message']);
});

test('the .xpi holds the Firefox manifest and the same scripts as the unpacked build', () => {
  const py = 'import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({n: z.read(n).decode() for n in z.namelist()}))';
  const files = JSON.parse(execFileSync('python3', ['-c', py, ext.xpi], { encoding: 'utf8' }));
  assert.deepEqual(Object.keys(files).sort(), ['background.js', 'content.js', 'manifest.json', 'page.js', 'policy.js']);
  const manifest = JSON.parse(files['manifest.json']);
  assert.equal(manifest.browser_specific_settings.gecko.id, FIREFOX_EXTENSION_ID);
  assert.deepEqual(manifest.permissions, ['nativeMessaging']);
  for (const f of ['background.js', 'content.js', 'page.js', 'policy.js']) {
    assert.equal(files[f], readFileSync(join(ext.chromium, f), 'utf8'), f);
  }
});
