// Pages for the frame and flood tests, served on two ports of localhost (two origins of one site,
// RP ID "localhost") and as sub.localhost (an origin the extension's content scripts do not match,
// so the extension has no script in that page). Each page carries helpers in its own realm:
// call(name, kind[, publicKey]) starts navigator.credentials.create/get and returns at once;
// state(name) and outcome(name) report it; abort(name) fires its AbortSignal; onGo, when set, runs
// on a click of the page's #go button (a real click gives the page transient activation).
import http from 'node:http';

const HELPERS = `<script>
'use strict';
window.calls = {};
const rnd = () => crypto.getRandomValues(new Uint8Array(16));
window.opts = {
  create: (name) => ({ rp: { id: 'localhost', name: 'frames' }, user: { id: rnd(), name, displayName: name },
    challenge: rnd(), pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' } }),
  get: () => ({ rpId: 'localhost', challenge: rnd(), userVerification: 'preferred' }),
};
window.call = (name, kind, publicKey) => {
  const ac = new AbortController();
  const c = window.calls[name] = { state: 'pending', ac };
  c.done = navigator.credentials[kind]({ signal: ac.signal, publicKey: publicKey ?? window.opts[kind](name) }).then(
    (cred) => Object.assign(c, { state: 'resolved', clientData: JSON.parse(new TextDecoder().decode(cred.response.clientDataJSON)) }),
    (e) => Object.assign(c, { state: 'rejected', error: [e.constructor.name, e.name] , message: String(e.message) }));
  return name;
};
window.state = (name) => window.calls[name] ? window.calls[name].state : 'absent';
window.outcome = async (name) => {
  const c = window.calls[name];
  await c.done;
  return { state: c.state, error: c.error, message: c.message, clientData: c.clientData };
};
window.abort = (name) => { window.calls[name].ac.abort(); return name; };
window.onGo = null;
addEventListener('DOMContentLoaded', () => { document.getElementById('go').onclick = () => { if (window.onGo) window.onGo(); }; });
</script>`;

function page(title, body = '') {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${HELPERS}</head>
<body><h1>${title}</h1><button id="go">Go</button>${body}</body></html>`;
}

const attr = (v) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function handler(req, res) {
  const u = new URL(req.url, 'http://localhost');
  const send = (body, headers = {}) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  };
  switch (u.pathname) {
    case '/app':
      return send(page('app'));
    // An iframe: src, and optional allow and sandbox attributes, from the query.
    case '/embed': {
      let iframe = `<iframe id="f" src="${attr(u.searchParams.get('src') ?? '')}"`;
      for (const a of ['allow', 'sandbox']) if (u.searchParams.has(a)) iframe += ` ${a}="${attr(u.searchParams.get(a))}"`;
      return send(page('embed', `${iframe} width="400" height="200"></iframe>`));
    }
    // n iframes of src (same-origin ones let the page drive them: frames[i].contentWindow).
    case '/frames': {
      const n = Math.min(Number(u.searchParams.get('n')) || 1, 16);
      const src = attr(u.searchParams.get('src') ?? '');
      return send(page('frames', Array.from({ length: n }, () => `<iframe src="${src}" width="100" height="60"></iframe>`).join('')));
    }
    // A document whose own CSP sandboxes it: its origin is opaque though its URL is not.
    case '/sandboxed':
      return send(page('sandboxed'), { 'Content-Security-Policy': 'sandbox allow-scripts' });
    // A top-level page whose Permissions-Policy header disables WebAuthn for itself.
    case '/policy-none':
      return send(page('policy-none'), { 'Permissions-Policy': 'publickey-credentials-get=(), publickey-credentials-create=()' });
    default:
      res.writeHead(404);
      return res.end();
  }
}

function listen() {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '::', ipv6Only: false }, () => resolve(server));
  });
}

// Starts both servers: {a, b, hidden, stop()}: origins http://localhost:A, http://localhost:B and
// http://sub.localhost:A (A's server under a host name no content script matches; browsers
// resolve *.localhost to the loopback address).
export async function startPages() {
  const servers = [await listen(), await listen()];
  const [pa, pb] = servers.map((s) => s.address().port);
  return {
    a: `http://localhost:${pa}`,
    b: `http://localhost:${pb}`,
    hidden: `http://sub.localhost:${pa}`,
    stop() { for (const s of servers) { s.closeAllConnections(); s.close(); } },
  };
}

// The URL of a page embedding `src` in an iframe with the given attributes.
export function embed(top, src, attrs = {}) {
  const q = new URLSearchParams({ src, ...attrs });
  return `${top}/embed?${q}`;
}
