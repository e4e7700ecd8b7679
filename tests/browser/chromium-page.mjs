// Debian's Chromium, headless, with the extension and its native host, on the RP page
// (python-fido2's server), for a test that answers latchkeyd's prompt itself: the graphical
// prompt's browser end to end (crates/ui/tests/ui_browser.rs) runs this with the session bus of
// its own desktop, where the real latchkeyd serves.
//
// Usage: node chromium-page.mjs NATIVE_HOST. Prints "ready", then for each line on stdin
// ("register" or "signIn") the page's call as one JSON line: what describeCredentialSource says
// of the credential and the RP's verdict ("done"), or {"error": NAME} when the call rejects.
// Ends when stdin closes.
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { startRp, buildExtension, writeManifest, tempDir, describeCredentialSource } from './harness.mjs';

const host = process.argv[2];
if (!host) throw new Error('usage: chromium-page.mjs NATIVE_HOST');
const rp = await startRp();
// The RP server goes with this script however it ends.
process.on('exit', () => rp.stop());
const ext = buildExtension();
const profile = tempDir('lk-chromium-ui-');
writeManifest(join(profile, 'NativeMessagingHosts'), 'chromium', host);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: false,
  ignoreDefaultArgs: ['--disable-extensions'],
  args: [
    '--headless=new', '--no-sandbox', '--disable-gpu',
    `--disable-extensions-except=${ext.chromium}`, `--load-extension=${ext.chromium}`,
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-quic',
  ],
  env: process.env,
});
const page = await context.newPage();
await page.goto(rp.url);
await page.waitForFunction(() => !String(navigator.credentials.create).includes('[native code]'), null, { timeout: 15000 });
console.log(JSON.stringify({ ready: true, origin: rp.url.replace(/\/$/, '') }));

for await (const line of createInterface({ input: process.stdin })) {
  const call = line.trim();
  if (call !== 'register' && call !== 'signIn') {
    console.log(JSON.stringify({ error: `unknown call ${call}` }));
    continue;
  }
  const r = await page.evaluate(`(async () => {
    const d = ${describeCredentialSource};
    try {
      const { cred, done } = await window.rp.${call}();
      return { ...d(cred), done, status: document.getElementById('status').textContent };
    } catch (e) { return { error: e.name, message: String(e.message) }; }
  })()`);
  console.log(JSON.stringify(r));
}
await context.close();
rp.stop();
