// The navigator.credentials patch, shared by the WebExtension (page.js wraps it at build time,
// see browser/build.sh) and the Electron bridge (bridges/electron/patch.js requires this file).
// Runs in the page's main world: `publicKey` requests go to `bridge`; passwords, federated
// credentials and `mediation: "conditional"` go to the browser's own implementation untouched.
// Results behave like native PublicKeyCredentials (WebAuthn L3 §5.1, §5.2); failures are
// DOMExceptions with WebAuthn names.
//
// `bridge`: {create(id, optionsJSON), get(id, optionsJSON), cancel(id), capabilities()}, where
// optionsJSON is PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON as a string (§5.1.8,
// §5.1.9) and each call resolves to {ok: true, value} (the RegistrationResponseJSON /
// AuthenticationResponseJSON object, or the capabilities) or {ok: false, name, message}.
// This file is evaluated as the source of one function, so it must stay self-contained.
function latchkeyPatch(bridge) {
  'use strict';
  if (!window.navigator.credentials || !window.PublicKeyCredential) return;
  const creds = navigator.credentials;
  const nativeCreate = creds.create.bind(creds);
  const nativeGet = creds.get.bind(creds);
  const PKC = window.PublicKeyCredential;

  // --- encodings -------------------------------------------------------------------------
  const enc = (buf) => {
    const b = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const dec = (s) => {
    if (typeof s !== 'string') return null;
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  };
  // Options → WebAuthn JSON (§5.1.8, §5.1.9): every BufferSource becomes base64url.
  const toJSONValue = (v) => {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return enc(v);
    if (Array.isArray(v)) return v.map(toJSONValue);
    if (v && typeof v === 'object') {
      const o = {};
      for (const k of Object.keys(v)) if (v[k] !== undefined) o[k] = toJSONValue(v[k]);
      return o;
    }
    return v;
  };
  // Extension outputs carry buffers in some members (prf results, largeBlob blob).
  const extensionResults = (json) => {
    const r = structuredClone(json || {});
    if (r.prf && r.prf.results) {
      for (const k of ['first', 'second']) if (typeof r.prf.results[k] === 'string') r.prf.results[k] = dec(r.prf.results[k]);
    }
    if (r.largeBlob && typeof r.largeBlob.blob === 'string') r.largeBlob.blob = dec(r.largeBlob.blob);
    return r;
  };

  // --- result objects ----------------------------------------------------------------------
  // Objects whose prototypes chain to the browser's own, so `instanceof` holds, with every
  // member the browser defines shadowed by one that answers from the response JSON.
  const make = (proto, members) => {
    const d = {};
    for (const [k, [kind, v]] of Object.entries(members)) {
      d[k] = kind === 'get' ? { get: () => v, enumerable: true, configurable: true } : { value: v, writable: true, configurable: true };
    }
    return Object.create(proto, d);
  };
  const credential = (json) => {
    const r = json.response;
    const transports = Array.isArray(r.transports) ? r.transports.slice() : [];
    const response = r.attestationObject !== undefined
      ? make(AuthenticatorAttestationResponse.prototype, {
        clientDataJSON: ['get', dec(r.clientDataJSON)],
        attestationObject: ['get', dec(r.attestationObject)],
        getTransports: ['fn', () => transports.slice()],
        getAuthenticatorData: ['fn', () => dec(r.authenticatorData)],
        getPublicKey: ['fn', () => (r.publicKey ? dec(r.publicKey) : null)],
        getPublicKeyAlgorithm: ['fn', () => r.publicKeyAlgorithm],
      })
      : make(AuthenticatorAssertionResponse.prototype, {
        clientDataJSON: ['get', dec(r.clientDataJSON)],
        authenticatorData: ['get', dec(r.authenticatorData)],
        signature: ['get', dec(r.signature)],
        userHandle: ['get', r.userHandle ? dec(r.userHandle) : null],
      });
    return make(PKC.prototype, {
      id: ['get', json.id],
      rawId: ['get', dec(json.rawId || json.id)],
      type: ['get', 'public-key'],
      response: ['get', response],
      authenticatorAttachment: ['get', json.authenticatorAttachment ?? null],
      getClientExtensionResults: ['fn', () => extensionResults(json.clientExtensionResults)],
      toJSON: ['fn', () => structuredClone(json)],
    });
  };

  // --- requests ----------------------------------------------------------------------------
  const fail = (r) => {
    const name = String(r.name || 'NotAllowedError');
    return name === 'TypeError' ? new TypeError(String(r.message || '')) : new DOMException(String(r.message || ''), name);
  };
  let next = 1;
  const run = (kind, options) => new Promise((resolve, reject) => {
    const signal = options.signal;
    if (signal && signal.aborted) { reject(signal.reason); return; }
    const id = next++;
    let done = false;
    const onAbort = () => { if (!done) { done = true; bridge.cancel(id); reject(signal.reason); } };
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    bridge[kind](id, JSON.stringify(toJSONValue(options.publicKey))).then((r) => {
      if (done) return;
      done = true;
      if (signal) signal.removeEventListener('abort', onAbort);
      if (r.ok) resolve(credential(r.value)); else reject(fail(r));
    }, (e) => {
      if (done) return;
      done = true;
      if (signal) signal.removeEventListener('abort', onAbort);
      reject(new DOMException(String(e), 'NotAllowedError'));
    });
  });

  // --- the patched API -------------------------------------------------------------------
  const ours = (o) => o && typeof o === 'object' && o.publicKey && o.mediation !== 'conditional';
  Object.defineProperty(creds, 'create', { value: function create(o) { return ours(o) ? run('create', o) : nativeCreate(o); }, writable: true, configurable: true });
  Object.defineProperty(creds, 'get', { value: function get(o) { return ours(o) ? run('get', o) : nativeGet(o); }, writable: true, configurable: true });
  const caps = () => bridge.capabilities().then((r) => (r.ok ? { ...r.value } : Promise.reject(fail(r))));
  Object.defineProperty(PKC, 'getClientCapabilities', { value: function getClientCapabilities() { return caps(); }, writable: true, configurable: true });
  Object.defineProperty(PKC, 'isUserVerifyingPlatformAuthenticatorAvailable', {
    value: function isUserVerifyingPlatformAuthenticatorAvailable() { return caps().then((c) => c.userVerifyingPlatformAuthenticator === true, () => false); },
    writable: true, configurable: true,
  });
}
if (typeof module !== 'undefined') module.exports = { latchkeyPatch };
