// ISOLATED-world relay between the page script (MAIN world) and the background worker. The page
// script and this script share a per-page secret handed over through a one-time DOM event, so
// other page scripts cannot post requests as if they were the patched API... they could call the
// patched API itself, which is what a page is allowed to do anyway; the origin is never taken
// from the page.
'use strict';
(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const secret = crypto.randomUUID();
  let port = null;
  function bg() {
    if (port) return port;
    port = api.runtime.connect({ name: 'latchkey' });
    port.onMessage.addListener((msg) => {
      window.postMessage({ latchkey: 'response', secret, msg }, window.location.origin === 'null' ? '*' : window.location.origin);
    });
    port.onDisconnect.addListener(() => { port = null; });
    return port;
  }
  window.addEventListener('message', (ev) => {
    if (ev.source !== window || !ev.data || ev.data.latchkey !== 'request' || ev.data.secret !== secret) return;
    ev.stopImmediatePropagation();
    bg().postMessage(ev.data.msg);
  }, true);
  // Hand the secret to the page script once; it removes its listener after the first event.
  document.documentElement.dispatchEvent(new CustomEvent('latchkey-hello', { detail: secret }));
  window.addEventListener('latchkey-ready', () => {
    document.documentElement.dispatchEvent(new CustomEvent('latchkey-hello', { detail: secret }));
  }, { once: true });
})();
