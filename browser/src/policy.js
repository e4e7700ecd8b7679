// Decisions the background script makes before a request goes to the native host, as pure
// functions of what the browser and the content scripts reported (background.js gathers those).
// Loaded by background.js (importScripts in Chromium's service worker, a second background
// script in Firefox) and by the unit tests (require). See browser/SECURITY.md for why each rule
// exists.
//
// - Opaque origins are refused (WebAuthn L3 §5.1.3 step 7, §5.1.4.1 step 5: NotAllowedError).
// - Only a visible document in the selected tab of a focused window may start a ceremony
//   (Chromium and Firefox refuse WebAuthn from an unfocused or background document).
// - A frame that is not same-origin with its ancestors needs the Permissions Policy feature
//   `publickey-credentials-create` / `-get` (L3 §5.9, §5.10); create there also needs transient
//   activation (L3 §5.1.3 step 2). get needs none (§5.1.4 has no such step).
// - The top-level origin of a subframe must be known, else the request is refused: without it
//   latchkeyd would write `"crossOrigin":false` for an embedded frame.
'use strict';
(() => {
  // latchkeyd refuses options JSON over 64 KiB (crates/daemon/src/options.rs, TypeError); the
  // extension refuses them before they reach the native host, whose frame limit is 1 MiB.
  const MAX_OPTIONS_BYTES = 64 * 1024;
  const FEATURE = { create: 'publickey-credentials-create', get: 'publickey-credentials-get' };

  const refuse = (name, message) => ({ ok: false, name, message });

  // The UTF-8 length of `value` serialised as JSON.
  const jsonBytes = (value) => new TextEncoder().encode(JSON.stringify(value)).length;

  // An origin as the browser serialises it, or null for anything else (opaque, missing, or not
  // http(s)).
  function webOrigin(origin) {
    if (typeof origin !== 'string' || origin === 'null') return null;
    let u;
    try { u = new URL(origin); } catch { return null; }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    return u.origin === origin ? origin : null;
  }

  // The iframe `allow` attribute's directives (Permissions Policy §9.2 "parse policy directive"):
  // feature → allowlist tokens, in order; a feature named twice keeps its first allowlist.
  function parseAllow(attr) {
    const out = new Map();
    for (const directive of String(attr ?? '').split(';')) {
      const tokens = directive.trim().split(/[\t\n\f\r ]+/).filter(Boolean);
      if (tokens.length === 0) continue;
      const [feature, ...allowlist] = tokens;
      if (!out.has(feature)) out.set(feature, allowlist.length ? allowlist : ["'src'"]);
    }
    return out;
  }

  // Whether the allowlist `tokens` matches `origin` (`self`: the embedding document's origin;
  // `src`: the iframe's declared origin).
  function allowlistMatches(tokens, origin, self, src) {
    if (origin === null || origin === 'null') return false;
    for (const t of tokens) {
      if (t === '*') return true;
      if (t === "'none'") continue;
      if (t === "'self'" && origin === self) return true;
      if (t === "'src'" && origin === src) return true;
      if (!t.startsWith("'") && webOrigin(safeOrigin(t)) === origin) return true;
    }
    return false;
  }
  function safeOrigin(s) { try { return new URL(s).origin; } catch { return null; } }

  // Permissions Policy §9.9 "define an inherited policy" for one container: whether `feature` is
  // enabled in the child document of origin `child`, embedded by the iframe `container`
  // ({allow, declared, self}: its allow attribute, declared origin and the embedder's origin).
  // The feature's default allowlist is 'self' (WebAuthn L3 §5.9, §5.10).
  function inherited(feature, container, child) {
    const directive = parseAllow(container.allow).get(feature);
    if (directive) return allowlistMatches(directive, child, container.self, container.declared);
    return child !== null && child === container.self;
  }

  // Decides a create/get request. `r`:
  //   kind: 'create' | 'get'; options: the options object;
  //   origin: sender.origin; frameId: sender.frameId; tabActive: sender.tab.active;
  //   context: what the requesting frame's content script saw ({visible, focused, activation,
  //     ancestors: location.ancestorOrigins or null, policy: {create, get} from
  //     document.featurePolicy or null});
  //   top: {origin (the top frame's sender.origin), focused, visible} or null (subframes);
  //   containers: for a subframe when policy is null, the containers from the frame up to the top
  //     ({allow, declared, self} or null when the embedder could not find it), else null.
  // Returns {ok: true, topOrigin} or {ok: false, name, message}.
  function decide(r) {
    const origin = webOrigin(r.origin);
    if (!origin) return refuse('NotAllowedError', 'the document has an opaque origin');
    const feature = FEATURE[r.kind];
    if (!feature) return refuse('TypeError', 'unknown request');
    if (!r.options || typeof r.options !== 'object' || Array.isArray(r.options)) {
      return refuse('TypeError', 'the options are not an object');
    }
    if (jsonBytes(r.options) > MAX_OPTIONS_BYTES) {
      return refuse('TypeError', `the options are larger than ${MAX_OPTIONS_BYTES} bytes`);
    }
    const c = r.context ?? {};
    const subframe = r.frameId !== 0;
    const top = subframe ? r.top : { origin, focused: c.focused === true, visible: c.visible === true };
    const topOrigin = top ? webOrigin(top.origin) : null;
    if (!topOrigin) return refuse('NotAllowedError', 'the top-level origin is unknown or opaque');
    if (r.tabActive !== true || c.visible !== true || top.visible !== true || top.focused !== true) {
      return refuse('NotAllowedError', 'the document is not focused');
    }
    // sameOriginWithAncestors (L3 §5.1.3 step 2): every ancestor has the caller's origin. The
    // last ancestor is the top, which must agree with what the top frame itself reported.
    const ancestors = Array.isArray(c.ancestors) ? c.ancestors : null;
    if (subframe && ancestors && ancestors.at(-1) !== topOrigin) {
      return refuse('NotAllowedError', 'the frame tree changed during the request');
    }
    const sameOriginWithAncestors = !subframe || (ancestors ? ancestors.every((a) => a === origin) : origin === topOrigin);
    if (!sameOriginWithAncestors && origin === topOrigin) {
      // latchkeyd derives crossOrigin from origin ≠ top origin, so it would call this frame
      // same-origin: refused rather than misdescribed.
      return refuse('NotAllowedError', 'a frame embedded in another origin by a page of its own origin is not supported');
    }
    if (!policyAllows(feature, origin, subframe, c, ancestors, r.containers)) {
      return refuse('NotAllowedError', `the ${feature} feature is not enabled in this document`);
    }
    if (!sameOriginWithAncestors && r.kind === 'create' && c.activation !== true) {
      return refuse('NotAllowedError', 'a cross-origin frame may create a credential only after a user gesture');
    }
    return { ok: true, topOrigin };
  }

  // The browser's own answer when it has one (document.featurePolicy, which also applies the
  // Permissions-Policy header); else the allow attributes from the frame up to the top, as
  // browsers without the header apply them (Firefox).
  function policyAllows(feature, origin, subframe, c, ancestors, containers) {
    if (c.policy && typeof c.policy === 'object') return c.policy[feature === FEATURE.create ? 'create' : 'get'] === true;
    if (!subframe) return true;
    if (!ancestors || !Array.isArray(containers) || containers.length !== ancestors.length) return false;
    // containers[i] embeds the document whose origin is (i === 0 ? origin : ancestors[i - 1]).
    return containers.every((k, i) => k !== null && typeof k === 'object'
      && k.self === ancestors[i]
      && inherited(feature, k, i === 0 ? origin : ancestors[i - 1]));
  }

  const api = { MAX_OPTIONS_BYTES, decide, parseAllow, inherited, webOrigin, jsonBytes };
  if (typeof module !== 'undefined') module.exports = api;
  else globalThis.latchkeyPolicy = api;
})();
