// What one page may do to WebAuthn in the rest of the browser, and what an embedded frame may do,
// through the extension → native host → latchkeyd, in a real browser. The same scenarios run in
// Chromium (chromium-isolation.test.mjs) and Firefox (firefox-isolation.test.mjs) through a
// driver: {open(url) → tab (new, selected), close(tab), eval(tab, frame, expr), click(tab, frame,
// selector), waitPatched(tab, frame), stop(), policyHeader}; `frame` is null for the top-level
// document or 'f' for the page's iframe. The pages are tests/browser/pages.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, HOST } from './harness.mjs';
import { startPages, embed } from './pages.mjs';

// Polls `f` until it returns a truthy value; fails with `what` after `ms`.
export async function until(f, what, ms = 20000) {
  const start = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`gave up waiting: ${typeof what === 'function' ? await what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const q = JSON.stringify;

export function isolationTests(name, browsers, makeDriver) {
  describe(name, () => {
    let daemon, pages, d;

    before(async () => {
      // Consent: the two registrations the tests expect to succeed, then every request hangs in
      // the prompt until it is closed.
      daemon = await startDaemon('approve\napprove\nhang\npin 482916\n', [HOST], browsers);
      pages = await startPages();
      d = await makeDriver(daemon);
    });

    after(async () => {
      await d?.stop();
      pages?.stop();
      daemon?.stop();
    });

    const consents = () => daemon.prompt('Consent');

    // Starts `start` (an expression calling call(name, …)) in (tab, frame), or clicks #go there
    // when `start` is null (onGo must be set), and waits until the call settles or latchkeyd
    // prompts for it. Returns {state, error, message, clientData, prompted: [Consent records]}.
    async function attempt(tab, frame, callName, start) {
      const n = consents().length;
      if (start === null) await d.click(tab, frame, '#go');
      else await d.eval(tab, frame, start);
      await until(async () => consents().length > n || (await d.eval(tab, frame, `state(${q(callName)})`)) !== 'pending',
        `${callName} neither settled nor reached the prompt`);
      const prompted = consents().slice(n);
      const state = await d.eval(tab, frame, `state(${q(callName)})`);
      if (state === 'pending') return { state, prompted };
      return { ...(await d.eval(tab, frame, `outcome(${q(callName)})`)), prompted };
    }

    // Asserts the call was refused with `errorName` before latchkeyd prompted for it; a call that
    // reached the prompt is closed first, so that the failure does not leave it hanging.
    async function assertRefused(tab, frame, callName, start, why, errorName = 'NotAllowedError') {
      const r = await attempt(tab, frame, callName, start);
      if (r.prompted.length > 0) {
        await d.eval(tab, frame, `abort(${q(callName)})`);
        assert.fail(`${callName} reached latchkeyd's prompt: ${q(r.prompted.map((c) => c.details))}`);
      }
      assert.equal(r.state, 'rejected', q(r));
      assert.deepEqual(r.error, ['DOMException', errorName], q(r));
      assert.match(r.message, why);
      return r;
    }

    // Closes a pending call through its AbortSignal and checks it ends in AbortError.
    async function abortCall(tab, frame, callName) {
      await d.eval(tab, frame, `abort(${q(callName)})`);
      const o = await d.eval(tab, frame, `outcome(${q(callName)})`);
      assert.deepEqual(o.error, ['DOMException', 'AbortError'], q(o));
    }

    // --- Embedded frames (issue 13, finding 4) ---------------------------------------------

    test('a top-level page registers; clientDataJSON says crossOrigin false', async () => {
      const tab = await d.open(`${pages.a}/app`);
      await d.waitPatched(tab, null);
      await d.eval(tab, null, "call('top', 'create')");
      const o = await d.eval(tab, null, "outcome('top')");
      assert.equal(o.state, 'resolved', q(o));
      assert.equal(o.clientData.origin, pages.a);
      assert.equal(o.clientData.crossOrigin, false);
      assert.equal(o.clientData.topOrigin, undefined);
      await d.close(tab);
    });

    test('a cross-origin frame creates only when allowed publickey-credentials-create and after a click; clientDataJSON names the top origin', async () => {
      const tab = await d.open(embed(pages.a, `${pages.b}/app`, { allow: 'publickey-credentials-create' }));
      await d.waitPatched(tab, 'f');
      await assertRefused(tab, 'f', 'no-click', "call('no-click', 'create')", /only after a user gesture/);
      await d.eval(tab, 'f', "(window.onGo = () => call('click', 'create'), true)");
      await attempt(tab, 'f', 'click', null);
      const o = await d.eval(tab, 'f', "outcome('click')");
      assert.equal(o.state, 'resolved', q(o));
      assert.equal(o.clientData.origin, pages.b);
      assert.equal(o.clientData.crossOrigin, true);
      assert.equal(o.clientData.topOrigin, pages.a);
      const consent = consents().at(-1).details;
      assert.equal(consent.origin, pages.b);
      assert.equal(consent.top_origin, pages.a);
      await d.close(tab);
    });

    test('a cross-origin frame without an allow attribute may neither get nor create', async () => {
      const tab = await d.open(embed(pages.a, `${pages.b}/app`));
      await d.waitPatched(tab, 'f');
      await assertRefused(tab, 'f', 'get', "call('get', 'get')", /publickey-credentials-get feature is not enabled/);
      await d.eval(tab, 'f', "(window.onGo = () => call('create', 'create'), true)");
      await assertRefused(tab, 'f', 'create', null, /publickey-credentials-create feature is not enabled/);
      // Allowed get is not allowed create.
      const tab2 = await d.open(embed(pages.a, `${pages.b}/app`, { allow: 'publickey-credentials-get' }));
      await d.waitPatched(tab2, 'f');
      await d.eval(tab2, 'f', "(window.onGo = () => call('create', 'create'), true)");
      await assertRefused(tab2, 'f', 'create', null, /publickey-credentials-create feature is not enabled/);
      await d.close(tab2);
      await d.close(tab);
    });

    test('a cross-origin frame allowed publickey-credentials-get gets without a click, naming the top origin', async () => {
      const tab = await d.open(embed(pages.a, `${pages.b}/app`, { allow: 'publickey-credentials-get' }));
      await d.waitPatched(tab, 'f');
      const r = await attempt(tab, 'f', 'get', "call('get', 'get')");
      assert.equal(r.state, 'pending', q(r));
      assert.equal(r.prompted.length, 1);
      assert.equal(r.prompted[0].details.origin, pages.b);
      assert.equal(r.prompted[0].details.top_origin, pages.a);
      await abortCall(tab, 'f', 'get');
      await d.close(tab);
    });

    test('a frame whose top-level page has no content script of the extension is refused, not sent as same-origin', async () => {
      const tab = await d.open(embed(pages.hidden, `${pages.b}/app`, { allow: 'publickey-credentials-get' }));
      await d.waitPatched(tab, 'f');
      await assertRefused(tab, 'f', 'get', "call('get', 'get')", /top-level origin is unknown/);
      await d.close(tab);
    });

    test('a document sandboxed by its CSP has an opaque origin and is refused', async () => {
      const tab = await d.open(`${pages.a}/sandboxed`);
      await d.waitPatched(tab, null);
      await assertRefused(tab, null, 'get', "call('get', 'get')", /opaque origin/);
      await d.close(tab);
    });

    test('a sandboxed iframe has an opaque origin and is refused', async () => {
      const tab = await d.open(embed(pages.a, `${pages.a}/app`, { sandbox: 'allow-scripts', allow: 'publickey-credentials-get' }));
      await d.waitPatched(tab, 'f');
      await assertRefused(tab, 'f', 'get', "call('get', 'get')", /opaque origin/);
      await d.close(tab);
    });

    test('a Permissions-Policy header that disables WebAuthn is honoured where the browser applies it', async (t) => {
      if (!d.policyHeader) {
        t.skip('this browser does not apply the Permissions-Policy header (only the allow attribute)');
        return;
      }
      const tab = await d.open(`${pages.a}/policy-none`);
      await d.waitPatched(tab, null);
      await assertRefused(tab, null, 'get', "call('get', 'get')", /publickey-credentials-get feature is not enabled/);
      await d.close(tab);
    });

    // --- One page against the others (issue 13, finding 3) ----------------------------------

    test('a page in a background tab cannot start a ceremony', async () => {
      const back = await d.open(`${pages.a}/app`);
      await d.waitPatched(back, null);
      const front = await d.open(`${pages.b}/app`);
      await assertRefused(back, null, 'bg', "call('bg', 'create')", /not focused/);
      await d.close(front);
      await d.close(back);
    });

    let flooder, other;

    test('a page that floods create() keeps one request: each new one aborts the one before', async () => {
      flooder = await d.open(`${pages.a}/app`);
      await d.waitPatched(flooder, null);
      await d.eval(flooder, null, "(() => { for (let i = 0; i < 20; i++) call('f' + i, 'create'); return true; })()");
      const states = () => d.eval(flooder, null, "[...Array(20).keys()].map((i) => state('f' + i))");
      await until(async () => (await states()).slice(0, 19).every((s) => s !== 'pending'),
        async () => `the superseded requests did not all settle: ${q(await states())}`);
      const errors = await d.eval(flooder, null, "Promise.all([...Array(19).keys()].map((i) => outcome('f' + i).then((o) => o.error)))");
      assert.deepEqual(errors, Array(19).fill(['DOMException', 'AbortError']));
      // The last one is the page's one request, waiting in the prompt.
      await until(() => consents().some((c) => c.details.user_name === 'f19'), 'f19 never reached the prompt');
      assert.equal(await d.eval(flooder, null, "state('f19')"), 'pending');
    });

    test("another page's ceremony is queued, not refused, and runs once the flooding page is gone", async () => {
      other = await d.open(`${pages.b}/app`);
      await d.waitPatched(other, null);
      await d.eval(other, null, "call('other', 'create')");
      await d.close(flooder);
      await until(async () => consents().some((c) => c.details.user_name === 'other') || (await d.eval(other, null, "state('other')")) !== 'pending',
        'the other page neither settled nor reached the prompt');
      const state = await d.eval(other, null, "state('other')");
      assert.equal(state, 'pending', q(state === 'pending' ? null : await d.eval(other, null, "outcome('other')")));
      assert.equal(consents().at(-1).details.origin, pages.b);
    });

    test("an oversized request fails alone: other pages' requests and the native host live on", async () => {
      const big = await d.open(`${pages.a}/app`);
      await d.waitPatched(big, null);
      // 2 MiB in user.displayName: over the native host's 1 MiB frame limit.
      await d.eval(big, null, "(() => { const o = opts.create('big'); o.user.displayName = 'x'.repeat(2 << 20); call('big', 'create', o); return true; })()");
      const o = await d.eval(big, null, "outcome('big')");
      assert.deepEqual(o.error, ['TypeError', 'TypeError'], q(o));
      // The other tab's request still waits in the prompt: only its own abort ends it.
      assert.equal(await d.eval(other, null, "state('other')"), 'pending', q(await d.eval(other, null, "state('other') === 'pending' ? null : outcome('other')")));
      await abortCall(other, null, 'other');
      // The host still serves.
      const r = await attempt(big, null, 'after', "call('after', 'create')");
      assert.equal(r.state, 'pending', q(r));
      assert.equal(r.prompted[0].details.origin, pages.a);
      await abortCall(big, null, 'after');
      await d.close(big);
      await d.close(other);
    });

    test("a page whose frames each ask holds only its own share of latchkeyd's queue: another page still gets in", async () => {
      // Five same-origin frames, one request each (the extension's limit is per document).
      const frames = await d.open(`${pages.a}/frames?n=5&src=${encodeURIComponent(`${pages.a}/app`)}`);
      const all = "[...document.querySelectorAll('iframe')].map((f) => f.contentWindow)";
      await until(() => d.eval(frames, null, `${all}.every((w) => typeof w.call === 'function' && !String(w.navigator.credentials.create).includes('[native code]'))`),
        'the extension did not patch every frame');
      await d.eval(frames, null, `(${all}.forEach((w, i) => w.call('m' + i, 'create')), true)`);
      const states = () => d.eval(frames, null, `${all}.map((w, i) => w.state('m' + i))`);
      // latchkeyd takes four of them (its share for one page) and refuses the fifth.
      await until(async () => (await states()).includes('rejected'), async () => `no frame's request was refused: ${q(await states())}`);
      const refused = await d.eval(frames, null, `Promise.all(${all}.map((w, i) => w.state('m' + i) === 'rejected' ? w.outcome('m' + i) : null)).then((o) => o.filter(Boolean))`);
      assert.equal(refused.length, 1, q(refused));
      assert.match(refused[0].message, /already has 4 requests/);
      const late = await d.open(`${pages.b}/app`);
      await d.waitPatched(late, null);
      await d.eval(late, null, "call('late', 'create')");
      await d.close(frames);
      await until(async () => consents().some((c) => c.details.user_name === 'late') || (await d.eval(late, null, "state('late')")) !== 'pending',
        'the other page neither settled nor reached the prompt');
      const state = await d.eval(late, null, "state('late')");
      assert.equal(state, 'pending', q(state === 'pending' ? null : await d.eval(late, null, "outcome('late')")));
      await abortCall(late, null, 'late');
      await d.close(late);
    });
  });
}
