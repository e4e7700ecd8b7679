// Shared pieces of the browser tests: the test latchkeyd (private bus, platform authenticator,
// scripted prompt), the relying-party server, the built extension and native host manifests.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
export const HOST = join(TARGET, 'debug/latchkey-native-host');
export const LATCHKEY = join(TARGET, 'debug/latchkey');
export const TEST_DAEMON = join(TARGET, 'debug/examples/latchkey-browser-test-daemon');
export const ARTIFACTS = join(TARGET, 'browser-tests');
// latchkeyd's clients (the native host the browsers start, the Electron bridge) take the test
// latchkeyd for latchkeyd, which no installed D-Bus activation file names.
process.env.LATCHKEY_TEST_LATCHKEYD = [process.env.LATCHKEY_TEST_LATCHKEYD, TEST_DAEMON].filter(Boolean).join(':');
export const CHROMIUM_EXTENSION_ID = 'fffpidmmhigeegjochefhdhalmjmeamj';
export const FIREFOX_EXTENSION_ID = 'latchkey@latchkey.dev';
const PYTHON = join(ROOT, 'tests/python/.venv/bin/python');

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

function readLines(child) {
  const rl = createInterface({ input: child.stdout });
  const lines = [];
  const waiters = [];
  rl.on('line', (l) => { lines.push(l); for (const w of waiters.splice(0)) w(); });
  return async function next(timeoutMs = 20000) {
    const start = Date.now();
    while (lines.length === 0) {
      if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for output');
      await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
    }
    return lines.shift();
  };
}

// latchkeyd on a private bus; `privileged` executables may vouch for web origins (the native
// host only when one of `browsers` started it; the test daemon's default is Debian's Chromium).
export async function startDaemon(script, privileged = [HOST], browsers = []) {
  const dir = tempDir('lk-daemon-');
  writeFileSync(join(dir, 'script'), script);
  const record = join(dir, 'record.jsonl');
  const args = ['--script', join(dir, 'script'), '--record', record, '--dir', dir];
  for (const p of privileged) args.push('--privileged', p);
  for (const b of browsers) args.push('--browser', b);
  const child = spawn(TEST_DAEMON, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = readLines(child);
  const first = await next();
  if (!first.startsWith('address=')) throw new Error('test daemon printed ' + first);
  if ((await next()) !== 'ready') throw new Error('test daemon not ready');
  return {
    address: first.slice('address='.length),
    prompt(method) {
      if (!existsSync(record)) return [];
      return readFileSync(record, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.method === method);
    },
    async waitFor(method, count, timeoutMs = 15000) {
      const start = Date.now();
      while (this.prompt(method).length < count) {
        if (Date.now() - start > timeoutMs) throw new Error(`prompt saw ${this.prompt(method).length} ${method}, wanted ${count}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // Closing stdin makes it stop its bus and exit; a kill would orphan the bus, which holds
    // our stderr open.
    stop() { child.stdin.end(); setTimeout(() => child.kill(), 3000).unref(); },
  };
}

export async function startRp() {
  const child = spawn(PYTHON, [join(import.meta.dirname, 'rp_server.py'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await readLines(child)();
  const port = Number(line.replace('port=', ''));
  return { url: `http://localhost:${port}/`, port, stop() { child.kill(); } };
}

// Builds the extension into a temp dir; returns {chromium, xpi}.
export function buildExtension() {
  const out = tempDir('lk-ext-');
  execFileSync(join(ROOT, 'browser/build.sh'), [out], { stdio: 'ignore' });
  return { chromium: join(out, 'chromium'), firefox: join(out, 'firefox'), xpi: join(out, 'latchkey-firefox.xpi') };
}

// The native messaging host manifest naming `host` (default: the one built in target/debug).
export function writeManifest(dir, kind, host = HOST) {
  mkdirSync(dir, { recursive: true });
  const m = { name: 'dev.latchkey.native_host', description: 'Latchkey passkeys for the web', path: host, type: 'stdio' };
  if (kind === 'firefox') m.allowed_extensions = [FIREFOX_EXTENSION_ID];
  else m.allowed_origins = [`chrome-extension://${CHROMIUM_EXTENSION_ID}/`];
  writeFileSync(join(dir, 'dev.latchkey.native_host.json'), JSON.stringify(m, null, 2));
}

// In the page: everything a test asserts about a PublicKeyCredential, as plain data.
export const describeCredentialSource = `(cred) => {
  const r = cred.response;
  const isReg = typeof r.getTransports === 'function';
  const out = {
    instanceofPKC: cred instanceof PublicKeyCredential,
    instanceofResponse: isReg ? r instanceof AuthenticatorAttestationResponse : r instanceof AuthenticatorAssertionResponse,
    id: cred.id, type: cred.type,
    rawIdIsBuffer: cred.rawId instanceof ArrayBuffer,
    rawIdMatchesId: btoa(String.fromCharCode(...new Uint8Array(cred.rawId))).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'') === cred.id,
    authenticatorAttachment: cred.authenticatorAttachment,
    extensionResults: cred.getClientExtensionResults(),
    json: cred.toJSON(),
    clientData: JSON.parse(new TextDecoder().decode(r.clientDataJSON)),
    clientDataIsBuffer: r.clientDataJSON instanceof ArrayBuffer,
  };
  if (isReg) {
    out.transports = r.getTransports();
    const pk = r.getPublicKey();
    out.publicKeyIsBuffer = pk instanceof ArrayBuffer;
    out.publicKeyLength = pk && pk.byteLength;
    out.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    out.authenticatorDataLength = r.getAuthenticatorData().byteLength;
    out.attestationObjectIsBuffer = r.attestationObject instanceof ArrayBuffer;
  } else {
    out.authenticatorDataLength = r.authenticatorData.byteLength;
    out.signatureIsBuffer = r.signature instanceof ArrayBuffer;
    out.userHandle = r.userHandle && new TextDecoder().decode(r.userHandle);
  }
  return out;
}`;
