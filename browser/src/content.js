// ISOLATED-world relay between the page script (MAIN world) and the background worker. The page
// script and this script share a per-page secret handed over through a one-time DOM event, so
// other page scripts cannot post requests as if they were the patched API... they could call the
// patched API itself, which is what a page is allowed to do anyway; the origin is never taken
// from the page.
//
// What the page cannot tamper with, this script reads for the background (browser/src/policy.js
// decides): whether the document is visible and focused, its transient activation, its
// ancestors' origins and the browser's Permissions Policy for it. It also answers two questions
// from the background: the top frame reports its focus back through runtime.sendMessage (so the
// background gets the top origin from the browser's sender.origin), and an embedding frame
// describes the iframe element holding a given child frame (Firefox, for the allow attribute).
'use strict';
(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const secret = crypto.randomUUID();
  // Posting to this very window: '*' only for an opaque origin, which no other value matches.
  const self_ = window.origin === 'null' ? '*' : window.origin;
  let port = null;
  function bg() {
    if (port) return port;
    port = api.runtime.connect({ name: 'latchkey' });
    port.onMessage.addListener((msg) => {
      window.postMessage({ latchkey: 'response', secret, msg }, self_);
    });
    port.onDisconnect.addListener(() => { port = null; });
    return port;
  }

  const FEATURES = { create: 'publickey-credentials-create', get: 'publickey-credentials-get' };
  function context() {
    const c = {
      visible: document.visibilityState === 'visible',
      focused: document.hasFocus(),
      activation: navigator.userActivation ? navigator.userActivation.isActive : null,
      ancestors: location.ancestorOrigins ? Array.from(location.ancestorOrigins) : null,
      policy: null,
    };
    const fp = document.featurePolicy;
    if (fp && typeof fp.allowsFeature === 'function') {
      c.policy = { create: fp.allowsFeature(FEATURES.create), get: fp.allowsFeature(FEATURES.get) };
    } else if (typeof api.runtime.getFrameId === 'function' && window !== window.top) {
      // The frame IDs of the embedders, from the parent up to the top, for the background to
      // ask each one about the iframe holding the frame below it.
      c.embedders = [];
      for (let w = window; w !== w.top; w = w.parent) c.embedders.push(api.runtime.getFrameId(w.parent));
    }
    return c;
  }

  window.addEventListener('message', (ev) => {
    if (ev.source !== window || !ev.data || ev.data.latchkey !== 'request' || ev.data.secret !== secret) return;
    ev.stopImmediatePropagation();
    const msg = ev.data.msg;
    // A new object: the page's own (an Xray wrapper in Firefox) takes no property from here.
    if (msg && (msg.type === 'create' || msg.type === 'get')) {
      bg().postMessage({ id: msg.id, type: msg.type, options: msg.options, context: context() });
    } else {
      bg().postMessage(msg);
    }
  }, true);

  // The declared origin of an iframe (HTML "iframe and frame: declared origin"), which an allow
  // attribute's 'src' names.
  function declaredOrigin(el) {
    const sandbox = el.getAttribute('sandbox');
    if (sandbox !== null && !sandbox.split(/\s+/).includes('allow-same-origin')) return 'null';
    if (el.hasAttribute('srcdoc')) return window.origin;
    const src = el.getAttribute('src');
    if (!src) return window.origin;
    try {
      const u = new URL(src, document.baseURI);
      if (u.href === 'about:blank') return window.origin;
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : 'null';
    } catch { return 'null'; }
  }
  // The iframe (in this document or any shadow tree in it) that holds frame `frameId`.
  function container(frameId, root = document) {
    for (const el of root.querySelectorAll('iframe, frame, object, embed')) {
      try { if (api.runtime.getFrameId(el) === frameId) return el; } catch { /* not a frame */ }
    }
    for (const el of root.querySelectorAll('*')) {
      const shadow = el.openOrClosedShadowRoot ?? el.shadowRoot;
      const found = shadow && container(frameId, shadow);
      if (found) return found;
    }
    return null;
  }

  api.runtime.onMessage.addListener((m, sender, reply) => {
    if (!m || sender.id !== api.runtime.id) return undefined;
    if (m.latchkey === 'top?' && window === window.top) {
      api.runtime.sendMessage({
        latchkey: 'top', nonce: m.nonce,
        focused: document.hasFocus(), visible: document.visibilityState === 'visible',
      }).catch(() => {});
      reply(true);
      return undefined;
    }
    if (m.latchkey === 'container?' && typeof api.runtime.getFrameId === 'function') {
      const el = container(m.child);
      reply(el ? { allow: el.getAttribute('allow'), declared: declaredOrigin(el), self: window.origin } : null);
      return undefined;
    }
    return undefined;
  });

  // Hand the secret to the page script once; it removes its listener after the first event.
  document.documentElement.dispatchEvent(new CustomEvent('latchkey-hello', { detail: secret }));
  window.addEventListener('latchkey-ready', () => {
    document.documentElement.dispatchEvent(new CustomEvent('latchkey-hello', { detail: secret }));
  }, { once: true });
})();
