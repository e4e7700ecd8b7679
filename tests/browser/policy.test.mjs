// The extension's request rules (browser/src/policy.js) case by case, and the background
// script's routing (browser/src/background.js) run against a stand-in of the extension API: what
// it sends the native host and what each page gets back. The browser tests show the same rules
// end to end; these pin the cases a browser cannot easily be put in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { ROOT } from './harness.mjs';

const require = createRequire(import.meta.url);
const { decide, parseAllow, inherited, MAX_OPTIONS_BYTES } = require(join(ROOT, 'browser/src/policy.js'));

const A = 'https://a.example';
const B = 'https://b.example';
const seen = { visible: true, focused: true, activation: false, ancestors: [], policy: null };
const topRequest = (over = {}) => ({ kind: 'get', options: { challenge: 'AA' }, origin: A, frameId: 0, tabActive: true, context: seen, top: null, containers: null, ...over });
// A frame of origin B in a page of origin A.
const frameRequest = (over = {}, context = {}) => topRequest({
  origin: B, frameId: 5, top: { origin: A, focused: true, visible: true },
  context: { ...seen, focused: false, ancestors: [A], ...context }, ...over,
});

test('a focused top-level document of a web origin may ask; its top origin is its own', () => {
  assert.deepEqual(decide(topRequest()), { ok: true, topOrigin: A });
  assert.deepEqual(decide(topRequest({ kind: 'create' })), { ok: true, topOrigin: A });
});

test('opaque, missing and non-web origins are refused, never replaced by the URL', () => {
  for (const origin of ['null', undefined, '', 'file://', 'chrome-extension://abc', 'https://a.example/path', 42]) {
    const r = decide(topRequest({ origin }));
    assert.equal(r.ok, false, String(origin));
    assert.equal(r.name, 'NotAllowedError');
  }
});

test('a background tab, a hidden or an unfocused document is refused', () => {
  for (const over of [{ tabActive: false }, { tabActive: undefined }, { context: { ...seen, visible: false } }, { context: { ...seen, focused: false } }, { context: undefined }]) {
    assert.deepEqual(decide(topRequest(over)), { ok: false, name: 'NotAllowedError', message: 'the document is not focused' }, JSON.stringify(over));
  }
  // A subframe needs the top document focused (the frame itself need not have focus).
  assert.equal(decide(frameRequest({ top: { origin: A, focused: false, visible: true } }, { policy: { get: true, create: true } })).ok, false);
  assert.equal(decide(frameRequest({}, { policy: { get: true, create: true } })).ok, true);
});

test('options over 64 KiB are a TypeError; options that are not an object too', () => {
  const big = { challenge: 'AA', user: { displayName: 'x'.repeat(MAX_OPTIONS_BYTES) } };
  assert.equal(decide(topRequest({ options: big })).name, 'TypeError');
  // Counted in UTF-8 bytes, not UTF-16 units.
  const wide = { n: '€'.repeat(Math.ceil(MAX_OPTIONS_BYTES / 3)) };
  assert.equal(decide(topRequest({ options: wide })).name, 'TypeError');
  for (const options of [null, 'x', [1], undefined]) assert.equal(decide(topRequest({ options })).name, 'TypeError');
  assert.equal(decide(topRequest({ kind: 'launch' })).name, 'TypeError');
});

test('a subframe whose top origin is unknown or opaque is refused', () => {
  for (const top of [null, { origin: undefined, focused: true, visible: true }, { origin: 'null', focused: true, visible: true }]) {
    const r = decide(frameRequest({ top }, { policy: { get: true, create: true } }));
    assert.equal(r.ok, false, JSON.stringify(top));
    assert.equal(r.name, 'NotAllowedError');
  }
  // The ancestors the frame saw must end at the top the top frame reported.
  assert.equal(decide(frameRequest({}, { ancestors: [B, 'https://c.example'], policy: { get: true, create: true } })).ok, false);
});

test('a cross-origin frame needs the feature enabled, and a user gesture to create', () => {
  assert.equal(decide(frameRequest({}, { policy: { get: false, create: false } })).ok, false);
  assert.deepEqual(decide(frameRequest({}, { policy: { get: true, create: false } })), { ok: true, topOrigin: A });
  assert.equal(decide(frameRequest({ kind: 'create' }, { policy: { get: true, create: false } })).ok, false);
  const noGesture = decide(frameRequest({ kind: 'create' }, { policy: { get: false, create: true } }));
  assert.deepEqual(noGesture, { ok: false, name: 'NotAllowedError', message: 'a cross-origin frame may create a credential only after a user gesture' });
  assert.deepEqual(decide(frameRequest({ kind: 'create' }, { policy: { get: false, create: true }, activation: true })), { ok: true, topOrigin: A });
  // A same-origin frame needs no gesture to create.
  assert.deepEqual(decide(frameRequest({ kind: 'create', origin: A }, { policy: { get: true, create: true } })), { ok: true, topOrigin: A });
  // A top-level document refused by its own Permissions-Policy header.
  assert.equal(decide(topRequest({ context: { ...seen, policy: { get: false, create: true } } })).ok, false);
});

test('a frame of the top origin inside a frame of another origin is refused, not called same-origin', () => {
  const r = decide(frameRequest({ origin: A }, { ancestors: [B, A], policy: { get: true, create: true } }));
  assert.equal(r.ok, false);
  assert.match(r.message, /not supported/);
});

test('allow attributes parse as Permissions Policy directives', () => {
  assert.deepEqual([...parseAllow("publickey-credentials-get; camera 'none'; publickey-credentials-get *")],
    [['publickey-credentials-get', ["'src'"]], ['camera', ["'none'"]]]);
  assert.deepEqual([...parseAllow(' publickey-credentials-create  https://b.example \'self\' ;;')],
    [['publickey-credentials-create', ['https://b.example', "'self'"]]]);
  assert.deepEqual([...parseAllow(null)], []);
});

test('the allow attribute enables a feature for the origins its allowlist names', () => {
  const F = 'publickey-credentials-get';
  const k = (allow, declared = B) => ({ allow, declared, self: A });
  assert.equal(inherited(F, k(null), B), false, 'default allowlist is self');
  assert.equal(inherited(F, k(null), A), true);
  assert.equal(inherited(F, k(F), B), true, "a bare feature means 'src'");
  assert.equal(inherited(F, k(F, 'https://c.example'), B), false, 'the frame navigated away from its src');
  assert.equal(inherited(F, k(`${F} *`), 'https://c.example'), true);
  assert.equal(inherited(F, k(`${F} 'none'`), A), false);
  assert.equal(inherited(F, k(`${F} 'self'`), B), false);
  assert.equal(inherited(F, k(`${F} https://b.example/some/path`), B), true);
  assert.equal(inherited(F, k('publickey-credentials-create'), B), false);
  assert.equal(inherited(F, k(`${F} *`), 'null'), false);
});

test('without the browser policy, every container from the frame to the top must allow it', () => {
  const C = 'https://c.example';
  // C in B in A: containers[0] is B's iframe of C, containers[1] is A's iframe of B.
  const nested = (containers) => decide(frameRequest({ origin: C, containers }, { ancestors: [B, A], policy: null }));
  const get = 'publickey-credentials-get';
  assert.equal(nested([{ allow: get, declared: C, self: B }, { allow: get, declared: B, self: A }]).ok, true);
  assert.equal(nested([{ allow: get, declared: C, self: B }, { allow: null, declared: B, self: A }]).ok, false);
  assert.equal(nested([{ allow: get, declared: C, self: B }, null]).ok, false, 'an embedder that did not answer');
  assert.equal(nested([{ allow: get, declared: C, self: B }]).ok, false, 'a missing level');
  assert.equal(nested([{ allow: get, declared: C, self: 'https://evil.example' }, { allow: get, declared: B, self: A }]).ok, false);
});

// --- background.js against a stand-in extension API -------------------------------------------

function event() {
  const fs = [];
  return { addListener: (f) => fs.push(f), fire: (...a) => fs.map((f) => f(...a)) };
}

function loadBackground() {
  const native = { posted: [], onMessage: event(), onDisconnect: event(), postMessage(m) { this.posted.push(JSON.parse(JSON.stringify(m))); } };
  const onConnect = event();
  const chrome = {
    runtime: { id: 'ext', connectNative: () => native, onConnect, onMessage: event(), lastError: undefined },
    tabs: { sendMessage: () => Promise.reject(new Error('no receiver')) },
  };
  const src = (f) => readFileSync(join(ROOT, 'browser/src', f), 'utf8');
  const ctx = vm.createContext({ chrome, console: { warn() {} }, crypto, setTimeout, TextEncoder, URL, structuredClone });
  ctx.importScripts = (f) => vm.runInContext(src(f), ctx);
  vm.runInContext(src('background.js'), ctx);
  // A content script's port from a focused top-level document of `origin`.
  const connect = (origin, frameId = 0) => {
    const port = { name: 'latchkey', sender: { id: 'ext', origin, frameId, tab: { id: 1, active: true } }, received: [], onMessage: event(), onDisconnect: event(), postMessage(m) { this.received.push(JSON.parse(JSON.stringify(m))); } };
    onConnect.fire(port);
    return port;
  };
  return { native, connect };
}

const settle = () => new Promise((r) => setImmediate(r));
const ceremony = (id, type = 'create') => ({ id, type, options: { challenge: 'AA' }, context: seen });

test('a host error without a request id reaches no page', async () => {
  const { native, connect } = loadBackground();
  const a = connect(A);
  const b = connect(B);
  a.onMessage.fire(ceremony(7));
  b.onMessage.fire(ceremony(7, 'get'));
  await settle();
  assert.deepEqual(native.posted, [
    { id: 1, type: 'create', options: { challenge: 'AA' }, origin: A, topOrigin: A },
    { id: 2, type: 'get', options: { challenge: 'AA' }, origin: B, topOrigin: B },
  ]);
  native.onMessage.fire({ id: null, type: 'error', name: 'UnknownError', message: 'message of 2097152 bytes exceeds the 1048576-byte limit' });
  assert.deepEqual([a.received, b.received], [[], []]);
  // Replies with an id still reach their page, under the page's own id.
  native.onMessage.fire({ id: 2, type: 'result', response: { id: 'AQ' } });
  assert.deepEqual(b.received, [{ id: 7, type: 'result', response: { id: 'AQ' } }]);
  assert.deepEqual(a.received, []);
});

test("a document's new request aborts its request in flight, and reaches the host after the old one's cancel", async () => {
  const { native, connect } = loadBackground();
  const a = connect(A);
  a.onMessage.fire(ceremony(1));
  await settle();
  a.onMessage.fire(ceremony(2, 'get'));
  await settle();
  a.onMessage.fire(ceremony(3, 'get'));
  await settle();
  // 1 is cancelled in the host; 2 was replaced before it was sent; 3 waits for 1's answer.
  assert.deepEqual(native.posted.map((m) => [m.id, m.type]), [[1, 'create'], [1, 'cancel']]);
  assert.deepEqual(a.received.map((m) => [m.id, m.name]), [[1, 'AbortError'], [2, 'AbortError']]);
  native.onMessage.fire({ id: 1, type: 'error', name: 'AbortError', message: 'the request was aborted' });
  await settle();
  assert.deepEqual(native.posted.map((m) => [m.id, m.type]), [[1, 'create'], [1, 'cancel'], [2, 'get']]);
  // The host's answer to the aborted request went nowhere; the live one's reaches the page.
  assert.equal(a.received.length, 2);
  native.onMessage.fire({ id: 2, type: 'result', response: {} });
  assert.deepEqual(a.received.map((m) => [m.id, m.type]), [[1, 'error'], [2, 'error'], [3, 'result']]);
  // The page's cancel and its document going away close what is in flight.
  a.onMessage.fire(ceremony(4));
  await settle();
  a.onMessage.fire({ id: 4, type: 'cancel' });
  assert.deepEqual(native.posted.slice(3).map((m) => [m.id, m.type]), [[3, 'create'], [3, 'cancel']]);
  assert.deepEqual(a.received.at(-1).name, 'AbortError');
  native.onMessage.fire({ id: 3, type: 'error', name: 'AbortError', message: '' });
  a.onMessage.fire(ceremony(5));
  await settle();
  a.onDisconnect.fire();
  assert.deepEqual(native.posted.slice(5).map((m) => [m.id, m.type]), [[4, 'create'], [4, 'cancel']]);
});

test('a refused request never reaches the host', async () => {
  const { native, connect } = loadBackground();
  const opaque = connect('null');
  opaque.onMessage.fire(ceremony(1));
  // A subframe whose top frame does not answer.
  const frame = connect(B, 3);
  frame.onMessage.fire({ ...ceremony(2, 'get'), context: { ...seen, ancestors: [A], policy: { get: true, create: true } } });
  const big = connect(A);
  big.onMessage.fire({ ...ceremony(3), options: { challenge: 'AA', pad: 'x'.repeat(2 << 20) } });
  await settle();
  assert.deepEqual(native.posted, []);
  assert.deepEqual([opaque, frame, big].map((p) => p.received.map((m) => [m.id, m.name])),
    [[[1, 'NotAllowedError']], [[2, 'NotAllowedError']], [[3, 'TypeError']]]);
});
