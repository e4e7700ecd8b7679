// MAIN-world script, run at document_start: routes navigator.credentials.create/get for
// `publicKey` requests to Latchkey. Everything else (passwords, federated, conditional mediation)
// goes to the browser's own implementation untouched. Results behave like native
// PublicKeyCredentials (WebAuthn L3 §5.1, §5.2); failures are DOMExceptions with WebAuthn names.
'use strict';
(() => {
  if (!window.navigator.credentials || !window.PublicKeyCredential) return;
  const creds = navigator.credentials;
  const nativeCreate = creds.create.bind(creds);
  const nativeGet = creds.get.bind(creds);
  const PKC = window.PublicKeyCredential;

  // --- the relay to the ISOLATED world ---------------------------------------------------
  let secret = null;
  const waiting = [];
  const onHello = (ev) => {
    if (secret !== null || typeof ev.detail !== 'string') return;
    secret = ev.detail;
    document.documentElement.removeEventListener('latchkey-hello', onHello, true);
    for (const m of waiting.splice(0)) post(m);
  };
  document.documentElement.addEventListener('latchkey-hello', onHello, true);
  window.dispatchEvent(new Event('latchkey-ready'));

  let nextId = 1;
  const calls = new Map();
  function post(msg) {
    if (secret === null) { waiting.push(msg); return; }
    window.postMessage({ latchkey: 'request', secret, msg }, window.location.origin === 'null' ? '*' : window.location.origin);
  }
  window.addEventListener('message', (ev) => {
    const d = ev.data;
    if (ev.source !== window || !d || d.latchkey !== 'response' || d.secret !== secret || secret === null) return;
    ev.stopImmediatePropagation();
    const call = calls.get(d.msg.id);
    if (!call) return;
    calls.delete(d.msg.id);
    call(d.msg);
  }, true);

  function request(type, options, signal) {
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) { reject(signal.reason); return; }
      const id = nextId++;
      const onAbort = () => {
        calls.delete(id);
        post({ id, type: 'cancel' });
        reject(signal.reason);
      };
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      calls.set(id, (msg) => {
        if (signal) signal.removeEventListener('abort', onAbort);
        if (msg.type === 'error') reject(toError(msg));
        else resolve(msg);
      });
      post(options === undefined ? { id, type } : { id, type, options });
    });
  }

  function toError(msg) {
    const name = String(msg.name || 'NotAllowedError');
    if (name === 'TypeError') return new TypeError(msg.message || '');
    return new DOMException(String(msg.message || ''), name);
  }

  // --- encodings -------------------------------------------------------------------------
  function b64urlEncode(buf) {
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function b64urlDecode(s) {
    if (typeof s !== 'string') return null;
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }
  // Options → WebAuthn JSON (§5.1.8, §5.1.9): every BufferSource becomes base64url.
  function toJSONValue(v) {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return b64urlEncode(v);
    if (Array.isArray(v)) return v.map(toJSONValue);
    if (v && typeof v === 'object') {
      const o = {};
      for (const k of Object.keys(v)) if (v[k] !== undefined) o[k] = toJSONValue(v[k]);
      return o;
    }
    return v;
  }
  // Extension outputs carry buffers in some members (prf results, largeBlob blob).
  function extensionResults(json) {
    const r = structuredClone(json || {});
    if (r.prf && r.prf.results) {
      for (const k of ['first', 'second']) if (typeof r.prf.results[k] === 'string') r.prf.results[k] = b64urlDecode(r.prf.results[k]);
    }
    if (r.largeBlob && typeof r.largeBlob.blob === 'string') r.largeBlob.blob = b64urlDecode(r.largeBlob.blob);
    return r;
  }

  // --- result objects ----------------------------------------------------------------------
  // Objects whose prototypes chain to the browser's own, so `instanceof` holds, with every
  // member the browser defines shadowed by one that answers from the response JSON.
  function define(proto, members) {
    const descriptors = {};
    for (const [k, v] of Object.entries(members)) {
      descriptors[k] = typeof v === 'function' && v.getter
        ? { get: v, enumerable: true, configurable: true }
        : { value: v, writable: true, configurable: true };
    }
    return Object.create(proto, descriptors);
  }
  const getter = (f) => { f.getter = true; return f; };

  function attestationResponse(r) {
    const clientDataJSON = b64urlDecode(r.clientDataJSON);
    const attestationObject = b64urlDecode(r.attestationObject);
    const transports = Array.isArray(r.transports) ? r.transports.slice() : [];
    return define(AuthenticatorAttestationResponse.prototype, {
      clientDataJSON: getter(() => clientDataJSON),
      attestationObject: getter(() => attestationObject),
      getTransports: () => transports.slice(),
      getAuthenticatorData: () => b64urlDecode(r.authenticatorData),
      getPublicKey: () => (r.publicKey ? b64urlDecode(r.publicKey) : null),
      getPublicKeyAlgorithm: () => r.publicKeyAlgorithm,
    });
  }
  function assertionResponse(r) {
    const clientDataJSON = b64urlDecode(r.clientDataJSON);
    const authenticatorData = b64urlDecode(r.authenticatorData);
    const signature = b64urlDecode(r.signature);
    const userHandle = r.userHandle ? b64urlDecode(r.userHandle) : null;
    return define(AuthenticatorAssertionResponse.prototype, {
      clientDataJSON: getter(() => clientDataJSON),
      authenticatorData: getter(() => authenticatorData),
      signature: getter(() => signature),
      userHandle: getter(() => userHandle),
    });
  }
  function credential(json) {
    const rawId = b64urlDecode(json.rawId || json.id);
    const response = json.response.attestationObject !== undefined
      ? attestationResponse(json.response) : assertionResponse(json.response);
    const ext = json.clientExtensionResults || {};
    return define(PKC.prototype, {
      id: getter(() => json.id),
      rawId: getter(() => rawId),
      type: getter(() => 'public-key'),
      response: getter(() => response),
      authenticatorAttachment: getter(() => json.authenticatorAttachment ?? null),
      getClientExtensionResults: () => extensionResults(ext),
      toJSON: () => structuredClone(json),
    });
  }

  // --- the patched API -------------------------------------------------------------------
  function ours(options) {
    return options && typeof options === 'object' && options.publicKey && options.mediation !== 'conditional';
  }
  const create = function create(options) {
    if (!ours(options)) return nativeCreate(options);
    return request('create', toJSONValue(options.publicKey), options.signal).then((m) => credential(m.response));
  };
  const get = function get(options) {
    if (!ours(options)) return nativeGet(options);
    return request('get', toJSONValue(options.publicKey), options.signal).then((m) => credential(m.response));
  };
  Object.defineProperty(creds, 'create', { value: create, writable: true, configurable: true });
  Object.defineProperty(creds, 'get', { value: get, writable: true, configurable: true });

  const capabilities = () => request('getClientCapabilities').then((m) => ({ ...m.capabilities }));
  Object.defineProperty(PKC, 'getClientCapabilities', {
    value: function getClientCapabilities() { return capabilities(); },
    writable: true, configurable: true,
  });
  Object.defineProperty(PKC, 'isUserVerifyingPlatformAuthenticatorAvailable', {
    value: function isUserVerifyingPlatformAuthenticatorAvailable() {
      return capabilities().then((c) => c.userVerifyingPlatformAuthenticator === true, () => false);
    },
    writable: true, configurable: true,
  });
})();
