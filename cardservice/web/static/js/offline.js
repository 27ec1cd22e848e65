// Offline verification at the merchant: a downloaded /v1/offline-bundle, checked against the
// issuer keys pinned from /v1/keys, then PTC1/PTP1 verified locally with WebCrypto
// (Ed25519 for the issuer, ECDSA P-256 for the holder's presentation), in the contract's
// order of verdicts.
import { api, store } from '/static/js/app.js';
import { Malformed, b64uDecode, cborDecode, kidOf, parseCoseSign1, parseCredential, verifyIssuer, verifyPresentation } from '/static/js/ptc.js';
import { inSubtree } from '/static/js/regions.js';

const BUNDLE_KEY = 'merchant.bundle';
const PRESENTATION_WINDOW = 60;
const CLOCK_SKEW = 300;
const STATUS_CODES = ['active', 'suspended', 'revoked', 'superseded'];

/** CBOR maps with text keys → plain objects, recursively; other maps stay Maps. */
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

async function inflate(bytes) {
  if (!bytes || !bytes.length) return new Uint8Array(0);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function rawKey(key) {
  return key.x instanceof Uint8Array ? key.x : b64uDecode(key.x);
}

function kidText(key) {
  return key.kid instanceof Uint8Array ? btoa(String.fromCharCode(...key.kid)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : key.kid;
}

/** Verify a bundle's signature against pinned keys and unpack it; throws with a reason. */
export async function openBundle(bytes, trusted) {
  let cose;
  try {
    cose = parseCoseSign1(bytes);
  } catch (err) {
    throw new Error(`unreadable (${err.message})`);
  }
  const signer = (trusted || []).find((k) => k.kid === cose.kid);
  if (!signer) throw new Error('unknown signer');
  if (signer.status === 'compromised') throw new Error('signer compromised');
  const raw = b64uDecode(signer.x);
  if ((await kidOf(raw)) !== cose.kid) throw new Error('pinned key does not match its kid');
  if (!(await verifyIssuer(cose, raw))) throw new Error('bad signature');
  const payload = plain(cborDecode(cose.payloadBytes));
  const now = Date.now() / 1000;
  const issuedAt = toSeconds(payload.issued_at);
  const expires = toSeconds(payload.expires);
  const keys = (payload.keys || []).map((k) => ({ ...k, kid: kidText(k) }));
  return {
    keys,
    statusBits: await inflate(payload.status_list),
    catalog: payload.catalog,
    merchant: payload.merchant || null,
    merchantRegion: payload.merchant_region,
    issuedAt,
    expires,
    expired: now > expires,
    signer: cose.kid,
  };
}

function toSeconds(value) {
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms / 1000;
}

export async function saveBundle(merchantKey) {
  const keys = await api('/v1/keys');
  if (!keys.ok) return { ok: false, offline: keys.offline, detail: `keys: HTTP ${keys.status}` };
  const got = await api('/v1/offline-bundle', { token: merchantKey, raw: true });
  if (!got.ok) return { ok: false, offline: got.offline, detail: got.data?.detail || `HTTP ${got.status}` };
  try {
    const bundle = await openBundle(got.data, keys.data.keys);
    await store.put(BUNDLE_KEY, { bytes: got.data, trusted: keys.data.keys, downloadedAt: Date.now() });
    return { ok: true, bundle };
  } catch (err) {
    return { ok: false, offline: false, detail: err.message };
  }
}

export async function loadBundle() {
  const saved = await store.get(BUNDLE_KEY).catch(() => null);
  if (!saved) return null;
  try {
    return await openBundle(saved.bytes, saved.trusted);
  } catch {
    return null;
  }
}

function statusAt(bits, index) {
  if (index < 0 || (index >> 2) >= bits.length) return null;
  return STATUS_CODES[(bits[index >> 2] >> (6 - 2 * (index & 3))) & 3];
}

function shanghaiDate(seconds) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(seconds * 1000));
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

/** A verdict shaped like POST /v1/verify's, computed from the bundle alone. */
export async function verifyOffline(bundle, text, now = Date.now() / 1000) {
  const verdict = (status, extra = {}) => ({
    valid: status === 'valid', status, card: null, benefits: [], not_applicable: [], presentation: null,
    catalog_version: {}, checked_at: new Date(now * 1000).toISOString(), verification_id: null, ...extra,
  });
  let parsed;
  try {
    parsed = parseCredential(text);
  } catch (err) {
    if (err instanceof Malformed) return verdict('malformed');
    throw err;
  }
  const c = parsed.card.claims;
  const card = { card_number: c.number, masked_name: c.maskedName, category: c.category, region: c.region, expires: shanghaiDate(c.exp) };
  const withCard = (status, extra = {}) => verdict(status, { card, presentation: parsed.kind, ...extra });
  // Like the server: the card's claims are shown only once its issuer signature is trusted.
  const untrusted = (status) => verdict(status, { presentation: parsed.kind });
  const key = bundle.keys.find((k) => k.kid === parsed.card.kid);
  if (!key) return untrusted('unknown_key');
  if (key.status === 'compromised') return untrusted('key_compromised');
  if (!(await verifyIssuer(parsed.card, rawKey(key)))) return untrusted('bad_signature');
  if (parsed.presentation) {
    if (!(await verifyPresentation(parsed))) return untrusted('bad_signature');
    if (Math.abs(now - parsed.presentation.t) > PRESENTATION_WINDOW) return withCard('stale_presentation');
  }
  const status = statusAt(bundle.statusBits, c.statusIndex);
  if (status === null) return withCard('unknown_card');
  if (status !== 'active') return withCard(status);
  if (now > c.exp) return withCard('expired');
  if (c.iat > now + CLOCK_SKEW) return withCard('not_yet_valid');
  const requireBinding = Boolean(bundle.merchant?.require_device_binding);
  if (requireBinding && !parsed.presentation) return withCard('static_not_allowed');
  const { applicable, notApplicable } = eligibility(benefitsInForce(bundle.catalog, shanghaiDate(now)), bundle.merchant, card);
  return withCard('valid', { benefits: applicable, not_applicable: notApplicable });
}
