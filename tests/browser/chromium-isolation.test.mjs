// isolation.mjs's scenarios in Debian's Chromium, headless, driven by Playwright: the unpacked
// extension, the native host and a test latchkeyd on a private bus.
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildExtension, writeManifest, tempDir } from './harness.mjs';
import { isolationTests, until } from './isolation.mjs';

isolationTests('Chromium', [], async (daemon) => {
  const ext = buildExtension();
  const profile = tempDir('lk-chromium-');
  writeManifest(join(profile, 'NativeMessagingHosts'), 'chromium');
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
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: daemon.address },
  });
  const frameOf = async (tab, frame) => {
    if (!frame) return tab.mainFrame();
    const f = await (await tab.waitForSelector(`#${frame}`, { state: 'attached' })).contentFrame();
    await f.waitForLoadState('load');
    return f;
  };
  // Playwright's evaluate runs as a user gesture, which would give every call transient
  // activation; the tests evaluate through the DevTools protocol without one, in the frame's main
  // world, and click (a real gesture) through Playwright.
  const sessions = new Map(); // tab → {cdp, contexts: frame id → execution context id}
  const session = async (tab) => {
    if (sessions.has(tab)) return sessions.get(tab);
    const cdp = await context.newCDPSession(tab);
    const s = { cdp, contexts: new Map() };
    cdp.on('Runtime.executionContextCreated', ({ context: c }) => {
      if (c.auxData && c.auxData.isDefault) s.contexts.set(c.auxData.frameId, c.id);
    });
    await cdp.send('Runtime.enable');
    sessions.set(tab, s);
    return s;
  };
  const evalNoGesture = async (tab, frame, expr) => {
    const f = await frameOf(tab, frame);
    const s = await session(tab);
    const { frameTree } = await s.cdp.send('Page.getFrameTree');
    const id = frame ? frameTree.childFrames?.[0]?.frame.id : frameTree.frame.id;
    if (id === undefined) {
      // An out-of-process frame (another site, or sandboxed) is not in this page's frame tree,
      // so Playwright evaluates there, as a gesture. The tests that use such frames do not
      // depend on activation.
      return f.evaluate(expr);
    }
    const contextId = await until(() => s.contexts.get(id), `no main world for frame ${frame} (an out-of-process frame?)`);
    const r = await s.cdp.send('Runtime.evaluate', { expression: expr, contextId, userGesture: false, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`${expr}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  };
  return {
    policyHeader: true,
    async open(url) {
      const tab = await context.newPage();
      await tab.goto(url);
      return tab;
    },
    async close(tab) { sessions.delete(tab); await tab.close(); },
    async eval(tab, frame, expr) { return evalNoGesture(tab, frame, expr); },
    async click(tab, frame, selector) { await (await frameOf(tab, frame)).click(selector); },
    async waitPatched(tab, frame) {
      await until(() => evalNoGesture(tab, frame, "typeof call === 'function' && !String(navigator.credentials.create).includes('[native code]')"),
        `the extension did not patch frame ${frame} of ${tab.url()}`);
    },
    async stop() { await context.close(); },
  };
});
