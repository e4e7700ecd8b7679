// isolation.mjs's scenarios in Debian's Firefox ESR, headless, driven over Marionette: the
// side-loaded .xpi, the native host (manifest installed by `latchkey browser install`) and a test
// latchkeyd on a private bus. Tabs are Marionette windows; a command aimed at a tab other than the
// selected one switches to it without selecting it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildExtension, tempDir, ARTIFACTS, LATCHKEY } from './harness.mjs';
import { FIREFOX, writeProfile, launchFirefox } from './firefox.mjs';
import { isolationTests, until } from './isolation.mjs';

isolationTests('Firefox', [FIREFOX], async (daemon) => {
  const ext = buildExtension();
  const home = tempDir('lk-firefox-home-');
  const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), TMPDIR: home };
  execFileSync(LATCHKEY, ['browser', 'install', '--browser', 'firefox'], { env, stdio: 'ignore' });
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = join(ARTIFACTS, 'firefox-isolation.log');
  writeFileSync(log, '');
  const profile = writeProfile(ext.xpi);
  const firefox = await launchFirefox(profile, { ...env, DBUS_SESSION_BUS_ADDRESS: daemon.address, LANG: 'C.UTF-8' }, log);
  const m = firefox.marionette;
  // The first tab stays open (about:blank), so that closing a test's tab never closes the window;
  // Marionette's commands go to it after a close.
  const keeper = (await m.send('WebDriver:GetWindowHandle')).value;
  // Directs commands to (tab, frame); selects the tab only when `select`.
  const enter = async (tab, frame, select = false) => {
    await m.send('WebDriver:SwitchToWindow', { handle: tab, focus: select });
    if (frame) {
      const el = await until(() => m.send('WebDriver:FindElement', { using: 'css selector', value: `#${frame}` }).catch(() => null), `no #${frame}`);
      await m.send('WebDriver:SwitchToFrame', { id: el.value });
      await until(() => m.execute("return document.readyState === 'complete'"), 'the frame did not load');
    }
  };
  // In the page's own realm (Marionette's sandbox has its own globals).
  const evalHere = (expr) => m.executeAsync(`const [expr, done] = arguments;
    Promise.resolve().then(() => window.eval(expr)).then(done, (e) => done({ thrown: String(e) }));`, [expr]);
  return {
    policyHeader: false,
    async open(url) {
      const tab = (await m.send('WebDriver:NewWindow', { type: 'tab', focus: true })).handle;
      await enter(tab, null, true);
      await m.navigate(url);
      return tab;
    },
    async close(tab) {
      await enter(tab, null);
      await m.send('WebDriver:CloseWindow');
      await m.send('WebDriver:SwitchToWindow', { handle: keeper, focus: false });
    },
    async eval(tab, frame, expr) { await enter(tab, frame); return evalHere(expr); },
    async click(tab, frame, selector) {
      await enter(tab, frame);
      const el = await m.send('WebDriver:FindElement', { using: 'css selector', value: selector });
      await m.send('WebDriver:ElementClick', { id: Object.values(el.value)[0] });
    },
    async waitPatched(tab, frame) {
      await enter(tab, frame);
      await until(() => evalHere("typeof call === 'function' && !String(navigator.credentials.create).includes('[native code]')"),
        'the extension did not patch the page');
    },
    async stop() {
      await firefox.stop();
      for (const dir of [profile, home]) rmSync(dir, { recursive: true, force: true });
    },
  };
});
