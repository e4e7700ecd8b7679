// Debian's Firefox ESR, headless, in a fresh profile with the unsigned Latchkey .xpi installed
// the way a distribution or an administrator side-loads it (profile/extensions/<id>.xpi), driven
// over Marionette. The profile's prefs keep it off the network: no updates, telemetry, captive
// portal or connectivity checks, remote settings, safe browsing or default-browser check.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marionette } from './marionette.mjs';
import { FIREFOX_EXTENSION_ID, tempDir } from './harness.mjs';

export const FIREFOX = '/usr/lib/firefox-esr/firefox-esr';

const PREFS = {
  // The unsigned extension, side-loaded in the profile, enabled without asking.
  'xpinstall.signatures.required': false,
  'extensions.autoDisableScopes': 0,
  'extensions.enabledScopes': 15,
  'extensions.originControls.grantByDefault': true,
  // Marionette picks a free port and writes it to <profile>/MarionetteActivePort.
  'marionette.port': 0,
  // Quiet: nothing phones home, nothing asks.
  'app.update.disabledForTesting': true,
  'app.update.auto': false,
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.blocklist.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.page': 0,
  'browser.startup.homepage': 'about:blank',
  'browser.startup.homepage_override.mstone': 'ignore',
  'startup.homepage_welcome_url': 'about:blank',
  'browser.aboutwelcome.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.section.topstories': false,
  'browser.newtabpage.activity-stream.feeds.snippets': false,
  'browser.ping-centre.telemetry': false,
  'browser.search.update': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.policy.dataSubmissionPolicyBypassNotification': true,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'app.normandy.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  'services.settings.server': 'http://127.0.0.1:9/',
  'identity.fxaccounts.enabled': false,
  'toolkit.startup.max_resumed_crashes': -1,
  'browser.tabs.warnOnClose': false,
  'browser.sessionstore.resume_from_crash': false,
};

export function writeProfile(xpi) {
  const profile = tempDir('lk-firefox-profile-');
  mkdirSync(join(profile, 'extensions'));
  copyFileSync(xpi, join(profile, 'extensions', `${FIREFOX_EXTENSION_ID}.xpi`));
  writeFileSync(join(profile, 'user.js'),
    Object.entries(PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
  return profile;
}

// Starts Firefox on `profile` with `env`; resolves to {marionette, child, stop()}. Firefox's own
// output goes to `log`.
export async function launchFirefox(profile, env, log) {
  const out = openSync(log, 'a');
  const child = spawn(FIREFOX, ['--headless', '--no-remote', '--profile', profile, '--marionette', 'about:blank'], {
    // The native host Firefox starts takes the test latchkeyd for latchkeyd (harness.mjs).
    env: { ...env, LATCHKEY_TEST_LATCHKEYD: process.env.LATCHKEY_TEST_LATCHKEYD ?? '', MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    stdio: ['ignore', out, out],
  });
  const exited = new Promise((r) => child.once('exit', r));
  const portFile = join(profile, 'MarionetteActivePort');
  const start = Date.now();
  while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').trim()) {
    if (child.exitCode !== null) throw new Error(`firefox exited with ${child.exitCode}; see ${log}`);
    if (Date.now() - start > 60000) { child.kill('SIGKILL'); throw new Error(`firefox did not start Marionette; see ${log}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const marionette = await Marionette.connect(Number(readFileSync(portFile, 'utf8').trim()));
  await marionette.newSession();
  return {
    marionette,
    child,
    async stop() {
      await Promise.race([marionette.quit(), new Promise((r) => setTimeout(r, 5000))]);
      marionette.close();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
