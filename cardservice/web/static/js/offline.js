// Offline verification at the merchant, as strict as the server (merchant_api.core and
// merchant_api.bundle): a /v1/offline-bundle opened only with keys this page was set up with
// (pinned) or that a bundle signed by such a key vouched for, then PTC1/PTP1 verified
// locally in the contract's order of verdicts. An expired bundle verifies nothing.
// Keys have a use: the signer of a bundle must be a trusted `bundle` key, a card verifies only
// under a `card` key (a card whose kid is a bundle key is `unknown_key`).
// The policy (numbers, categories, status-list codes, time zone) is the server's
// /web/policy.json, passed in; the merchant's own policy (kind, categories, A-level, device
// binding) is the `Merchant-Policy` header that came with the bundle (`readMerchantPolicy`),
// never part of the signed payload. Pure: no DOM, no storage, no network.
import { Malformed, b64u, b64uDecode, kidOf, parseCoseSign1, parseCredential, sha256, verifyIssuer, verifyPresentation, cborDecode } from './ptc.js';
import { inSubtree } from './regiontree.js';

const BUNDLE_LIMITS = { maxDepth: 16, maxItems: 200_000 }; // as merchant_api.bundle
const MAX_STATUS_LIST_BYTES = 64 * 1024 * 1024;
const TRUSTED = ['stale_presentation', 'unknown_card', 'superseded', 'revoked', 'suspended', 'expired', 'not_yet_valid', 'static_not_allowed', 'valid'];

/** Why a bundle (or a trust list) cannot be used: `code` is one of unreadable,
 * unknown_signer, wrong_use, signer_compromised, bad_signature, expired. */
export class BundleRefused extends Error {
  constructor(code, detail = '') {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
  }
}

/** The key's fingerprint for a person to compare: the first 16 bytes of SHA-256 of the raw
 * Ed25519 key, as 8 groups of 4 upper-case hex digits (cardservice.credentials.fingerprint). */
export async function fingerprint(rawKey) {
  const hex = [...(await sha256(rawKey)).slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  return hex.match(/.{4}/g).join(' ');
}

/** One key entry (a /v1/keys JWK, or a bundle's) checked: an Ed25519 key whose kid is its own. */
async function checkedKey(entry) {
  if (!entry || typeof entry !== 'object') throw new BundleRefused('unreadable', 'a key entry is not an object');
  const get = (k) => (entry instanceof Map ? entry.get(k) : entry[k]);
  const kid = get('kid');
  const x = get('x');
  let raw;
  try {
    raw = x instanceof Uint8Array ? x : b64uDecode(String(x));
  } catch {
    throw new BundleRefused('unreadable', 'a key is not base64url');
  }
  if (raw.length !== 32) throw new BundleRefused('unreadable', 'a key is not an Ed25519 key');
  const kidText = kid instanceof Uint8Array ? b64u(kid) : kid;
  if (typeof kidText !== 'string' || (await kidOf(raw)) !== kidText) {
    throw new BundleRefused('unreadable', `kid ${kidText} does not match its key`);
  }
  const use = get('use') ?? 'card'; // keys listed before uses existed are card keys
  if (use !== 'card' && use !== 'bundle') throw new BundleRefused('unreadable', `key ${kidText} has no known use`);
  const status = get('status');
  return {
    kid: kidText,
    x: b64u(raw),
    use,
    status: typeof status === 'string' ? status : 'active',
    not_after: get('not_after') ?? null,
    fingerprint: await fingerprint(raw),
  };
}

/** Set-up: pin the keys of a /v1/keys answer. The merchant compares the fingerprints with
 * the ones the bureau publishes; from then on only these keys (and keys they vouch for) count. */
export async function pinKeys(keysAnswer, now = Date.now() / 1000) {
  const entries = keysAnswer && Array.isArray(keysAnswer.keys) ? keysAnswer.keys : null;
  if (!entries || !entries.length) throw new BundleRefused('unreadable', 'expected {"keys": [...]} as /v1/keys answers');
  const keys = [];
  for (const entry of entries) keys.push({ ...(await checkedKey(entry)), source: 'pinned', vouchedBy: null });
  return { keys, setUpAt: Math.floor(now) };
}

const mayUse = (key, use) => key.use === use;

/** The newer word on keys: a verified bundle's statuses win over the pinned ones, except that
 * a compromised key stays compromised and a key keeps the use it was trusted for; a key the
 * bundle lists for the first time is vouched for by the bundle's signer. */
function mergeTrust(trust, listed, signer) {
  const byKid = new Map(trust.keys.map((k) => [k.kid, k]));
  for (const k of listed) {
    const known = byKid.get(k.kid);
    if (known) {
      const status = known.status === 'compromised' ? 'compromised' : k.status;
      byKid.set(k.kid, { ...known, status, not_after: k.not_after });
    } else {
      byKid.set(k.kid, { ...k, source: 'vouched', vouchedBy: signer });
    }
  }
  return { ...trust, keys: [...byKid.values()] };
}

async function inflate(bytes) {
  if (!bytes.length) return new Uint8Array(0);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  const reader = stream.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_STATUS_LIST_BYTES) {
      await reader.cancel();
      throw new BundleRefused('unreadable', 'status list too large');
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** CBOR maps with text keys → plain objects, recursively (other maps stay Maps). */
function plain(value) {
  if (value instanceof Map) {
    if ([...value.keys()].every((k) => typeof k === 'string')) {
      return Object.fromEntries([...value.entries()].map(([k, v]) => [k, plain(v)]));
    }
    return new Map([...value.entries()].map(([k, v]) => [k, plain(v)]));
  }
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/**
 * Open a bundle with the trust list; BundleRefused unless its signer is trusted for bundles,
 * not compromised, the signature verifies and the payload reads. Returns
 * {bundle, trust}: the bundle (with `expired`) and the trust list the bundle updated.
 * A bundle past its expiry is refused unless `allowExpired` (a stored one, to say so).
 */
export async function openBundle(bytes, trust, now = Date.now() / 1000, { allowExpired = false } = {}) {
  if (!trust || !Array.isArray(trust.keys)) throw new BundleRefused('unknown_signer', 'this device has no pinned keys');
  let cose;
  try {
    cose = parseCoseSign1(bytes, BUNDLE_LIMITS);
  } catch (err) {
    if (err instanceof Malformed) throw new BundleRefused('unreadable', err.message);
    throw err;
  }
  const signer = trust.keys.find((k) => k.kid === cose.kid);
  if (!signer) throw new BundleRefused('unknown_signer', `${cose.kid} is neither pinned nor vouched for by a pinned key`);
  if (!mayUse(signer, 'bundle')) throw new BundleRefused('wrong_use', `${cose.kid} is not a bundle key`);
  if (signer.status === 'compromised') throw new BundleRefused('signer_compromised', cose.kid);
  const raw = b64uDecode(signer.x);
  if ((await kidOf(raw)) !== cose.kid || !(await verifyIssuer(cose, raw))) throw new BundleRefused('bad_signature');
  let payload;
  try {
    payload = cborDecode(cose.payloadBytes, BUNDLE_LIMITS);
  } catch (err) {
    if (err instanceof Malformed) throw new BundleRefused('unreadable', err.message);
    throw err;
  }
  if (!(payload instanceof Map)) throw new BundleRefused('unreadable', 'payload is not a map');
  const issuedAt = payload.get('issued_at');
  const expires = payload.get('expires');
  const statusList = payload.get('status_list');
  const keyList = payload.get('keys');
  const region = payload.get('merchant_region');
  if (!Number.isInteger(issuedAt) || !Number.isInteger(expires) || !(statusList instanceof Uint8Array)
    || !Array.isArray(keyList) || typeof region !== 'string') {
    throw new BundleRefused('unreadable', 'payload fields');
  }
  const listed = [];
  for (const k of keyList) listed.push(await checkedKey(k));
  let statusBits;
  try {
    statusBits = await inflate(statusList);
  } catch (err) {
    if (err instanceof BundleRefused) throw err;
    throw new BundleRefused('unreadable', 'status list is not zlib');
  }
  const expired = Math.max(now, issuedAt) > expires;
  if (expired && !allowExpired) throw new BundleRefused('expired', 'download a new bundle');
  const updated = mergeTrust(trust, listed, cose.kid);
  const compromised = new Set(updated.keys.filter((k) => k.status === 'compromised').map((k) => k.kid));
  const bundle = {
    // Cards verify against the trust the bundle updated (as the server's offline verifier
    // does): pinned and vouched keys, the bundle's statuses, compromise remembered.
    keys: updated.keys.map((k) => (compromised.has(k.kid) ? { ...k, status: 'compromised' } : k)),
    statusBits,
    catalog: plain(payload.get('catalog') ?? {}),
    merchantRegion: region,
    issuedAt,
    expires,
    expired,
    signer: cose.kid,
  };
  return { bundle, trust: updated };
}

/** The `Merchant-Policy` header of /v1/offline-bundle (compact JSON) as a policy object, or
 * null when absent or unreadable (then nothing is assumed: no categories, no A-level). */
export function readMerchantPolicy(text) {
  if (typeof text !== 'string' || !text) return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  return {
    kind: typeof value.kind === 'string' ? value.kind : null,
    categories: Array.isArray(value.categories) ? value.categories.filter((c) => typeof c === 'string') : [],
    a_level: Number.isInteger(value.a_level) ? value.a_level : null,
    require_device_binding: value.require_device_binding === true,
  };
}

function standingAt(bits, index, policy) {
  if (index < 0 || (index >> 2) >= bits.length) return null;
  const code = (bits[index >> 2] >> (6 - 2 * (index & 3))) & 3;
  const entry = Object.entries(policy.status_list_codes).find(([, c]) => c === code);
  return entry ? entry[0] : null;
}

export function zoneDate(seconds, timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone }).format(new Date(seconds * 1000));
}

/** Benefits in force on `day` for the merchant's region and its ancestors. */
export function benefitsInForce(catalog, day) {
  if (!catalog) return [];
  if (Array.isArray(catalog)) return catalog;
  if (Array.isArray(catalog.benefits)) return catalog.benefits;
  const out = [];
  for (const [region, versions] of Object.entries(catalog)) {
    const list = Array.isArray(versions) ? versions : [versions];
    const inForce = list.filter((v) => !v.effective_from || v.effective_from <= day)
      .sort((a, b) => String(a.effective_from).localeCompare(String(b.effective_from)) || (a.version - b.version)).pop();
    if (inForce) for (const b of inForce.benefits || []) out.push({ ...b, region: b.region || region, version: b.version || inForce.version });
  }
  return out;
}

/** The contract's eligibility rules at this merchant. */
export function eligibility(benefits, merchant, card) {
  const applicable = [];
  const notApplicable = [];
  const cats = new Set(merchant?.categories || []);
  for (const b of benefits) {
    let reason = null;
    if (!(b.holder_categories || []).includes(card.category)) reason = 'holder_category';
    else if ((b.merchant_categories || []).length && !(b.merchant_categories || []).some((c) => cats.has(c))) reason = 'merchant_category';
    else if (b.min_a_level !== undefined && b.min_a_level !== null && !(merchant?.a_level && merchant.a_level >= b.min_a_level)) reason = 'a_level';
    else if (b.local_only && !inSubtree(card.region, b.region)) reason = 'local_only';
    if (reason) notApplicable.push({ id: b.id, title: b.title, reason, message: '' });
    else applicable.push(b);
  }
  return { applicable, notApplicable };
}

/**
 * A verdict shaped like POST /v1/verify's, from the bundle alone; or, when the bundle has
 * expired, `{refused: 'bundle_expired', valid: false}` and no verdict at all.
 * `options.merchant` is the merchant's policy (`readMerchantPolicy` of the header that came
 * with the bundle); `options.requireDeviceBinding` adds to it.
 */
export async function verifyOffline(bundle, text, policy, now = Date.now() / 1000, options = {}) {
  if (!bundle || Math.max(now, bundle.issuedAt) > bundle.expires) {
    return { refused: 'bundle_expired', valid: false, status: null, expires: bundle?.expires ?? null };
  }
  // A clock set back cannot make a card or presentation younger than the bundle.
  const at = Math.max(now, bundle.issuedAt);
  const base = (status, extra = {}) => ({
    valid: status === 'valid', status, card: null, benefits: [], not_applicable: [], presentation: null,
    catalog_version: {}, checked_at: new Date(at * 1000).toISOString(), verification_id: null, ...extra,
  });
  let parsed;
  try {
    parsed = parseCredential(text, { categories: policy.holder_categories });
  } catch (err) {
    if (err instanceof Malformed) return base('malformed');
    throw err;
  }
  const c = parsed.card.claims;
  const card = { card_number: c.number, masked_name: c.maskedName, category: c.category, region: c.region, expires: zoneDate(c.exp, policy.time_zone) };
  // As the server: the card's claims are shown only once its issuer signature is trusted.
  const verdict = (status, extra = {}) => base(status, { presentation: parsed.kind, card: TRUSTED.includes(status) ? card : null, ...extra });
  const key = bundle.keys.find((k) => k.kid === parsed.card.kid && mayUse(k, 'card'));
  if (!key) return verdict('unknown_key');
  if (key.status === 'compromised') return verdict('key_compromised');
  if (!(await verifyIssuer(parsed.card, b64uDecode(key.x)))) return verdict('bad_signature');
  if (parsed.presentation) {
    if (!(await verifyPresentation(parsed))) return verdict('bad_signature');
    if (Math.abs(at - parsed.presentation.t) > policy.presentation_window_seconds) return verdict('stale_presentation');
  }
  const standing = standingAt(bundle.statusBits, c.statusIndex, policy);
  if (standing === null) return verdict('unknown_card');
  if (standing !== 'active') return verdict(standing);
  if (at > c.exp) return verdict('expired');
  if (c.iat > at + policy.clock_skew_seconds) return verdict('not_yet_valid');
  const merchant = options.merchant ?? null;
  const requireBinding = Boolean(options.requireDeviceBinding || merchant?.require_device_binding);
  // A card bound to a phone counts only as its live presentation, everywhere.
  if (!parsed.presentation && (requireBinding || c.deviceKey)) return verdict('static_not_allowed');
  const day = zoneDate(at, policy.time_zone);
  const { applicable, notApplicable } = eligibility(benefitsInForce(bundle.catalog, day), merchant, card);
  return verdict('valid', { benefits: applicable, not_applicable: notApplicable });
}
