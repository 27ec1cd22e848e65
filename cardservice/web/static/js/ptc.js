// PTC1 / PTP1 credentials in the browser (DESIGN §3), read exactly as the server reads them
// (cardservice.credentials): strict base45, strict canonical CBOR (./cbor.js), COSE_Sign1
// with the one protected header {1: -8, 4: kid} and an empty unprotected header, the same
// claim checks; Ed25519 for the issuer and ES256 for the holder's presentation, with
// WebCrypto. Pure: no DOM, no storage (node's test runner loads it as it is).
import { COSE_SIGN1_TAG, CborError, Tagged, decode, encode } from './cbor.js';

const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const MAX_TEXT_LENGTH = 1200; // as cardservice.credentials.codec
const MAX_DECODED_BYTES = 640;
const MAX_TIME = 2 ** 32;
const KID_LENGTH = 8;
const PROTECTED_PREFIX = [0xa2, 0x01, 0x27, 0x04, 0x48]; // {1: -8, 4: h'<8 bytes>'}

export class Malformed extends Error {}

export function b45encode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 2) {
    if (i + 1 < bytes.length) {
      let n = (bytes[i] << 8) + bytes[i + 1];
      const e = Math.floor(n / 2025); n %= 2025;
      out += B45[n % 45] + B45[Math.floor(n / 45)] + B45[e];
    } else {
      out += B45[bytes[i] % 45] + B45[Math.floor(bytes[i] / 45)];
    }
  }
  return out;
}

/** RFC 9285 decoding that refuses anything a conforming encoder cannot produce. */
export function b45decode(text) {
  if (text.length % 3 === 1) throw new Malformed('base45 length');
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const chunk = text.slice(i, i + 3);
    const v = [...chunk].map((c) => B45.indexOf(c));
    if (v.some((x) => x < 0)) throw new Malformed('base45 alphabet');
    if (v.length === 3) {
      const n = v[0] + v[1] * 45 + v[2] * 2025;
      if (n > 0xffff) throw new Malformed('base45 value');
      out.push(n >> 8, n & 0xff);
    } else {
      const n = v[0] + v[1] * 45;
      if (n > 0xff) throw new Malformed('base45 value');
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

/** One strict CBOR item filling `bytes` (credential limits by default); throws Malformed. */
export function cborDecode(bytes, limits = undefined) {
  try {
    return decode(bytes, limits);
  } catch (err) {
    if (err instanceof CborError) throw new Malformed(`cbor: ${err.message}`);
    throw err;
  }
}

export const cborEncode = (value) => encode(value);

export function b64u(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64uDecode(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function uuidOf(bytes) {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const isBytes = (v) => v instanceof Uint8Array;
const isInt = (v) => Number.isInteger(v);

function need(cond, what) {
  if (!cond) throw new Malformed(what);
}

/** A tagged COSE_Sign1 with EdDSA, exactly the contract's shape:
 * {protectedBytes, payloadBytes, signature, kid}; throws Malformed. */
export function parseCoseSign1(bytes, limits = undefined) {
  const cose = cborDecode(bytes, limits);
  need(cose instanceof Tagged && cose.tag === COSE_SIGN1_TAG, 'not a tagged COSE_Sign1');
  const arr = cose.value;
  need(Array.isArray(arr) && arr.length === 4, 'COSE_Sign1 shape');
  const [protectedBytes, unprotected, payloadBytes, signature] = arr;
  need(isBytes(protectedBytes) && isBytes(payloadBytes) && isBytes(signature), 'COSE fields');
  need(unprotected instanceof Map && unprotected.size === 0, 'unprotected header must be empty');
  need(signature.length === 64, 'signature length');
  // The one byte form of {1: -8, 4: kid}: alg EdDSA first, an 8-byte kid, nothing else.
  need(protectedBytes.length === PROTECTED_PREFIX.length + KID_LENGTH
    && PROTECTED_PREFIX.every((b, i) => protectedBytes[i] === b), 'protected header must be exactly {1: -8, 4: kid}');
  const kid = protectedBytes.slice(PROTECTED_PREFIX.length);
  return { protectedBytes, payloadBytes, signature, kid: b64u(kid) };
}

const REGION = /^[0-9]{6}$/;
const CARD_NUMBER = /^[0-9]{17}[0-9X]$/;
const NAME_CHAR = /^[^\s\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Zs}]$/u;
const WEIGHTS = Array.from({ length: 17 }, (_, i) => 2 ** (17 - i) % 11);

const isTime = (v) => isInt(v) && v >= 0 && v < MAX_TIME;

function exactKeys(map, keys, what) {
  need(map instanceof Map && map.size === keys.length && keys.every((k) => map.has(k)), `${what} keys`);
  return map;
}

function checkNumber(number) {
  need(typeof number === 'string' && CARD_NUMBER.test(number), 'card number');
  const sum = [...number.slice(0, 17)].reduce((acc, d, i) => acc + Number(d) * WEIGHTS[i], 0);
  need('10X98765432'[sum % 11] === number[17], 'card number check character');
}

function checkMasked(masked) {
  const chars = typeof masked === 'string' ? [...masked] : [];
  need(chars.length >= 2 && chars.length <= 3 && chars[1] === '*'
    && NAME_CHAR.test(chars[0]) && NAME_CHAR.test(chars[chars.length - 1]), 'masked name');
}

/** Parse the COSE_Sign1 card bytes into {protectedBytes, payloadBytes, signature, kid, claims}.
 * `categories` (the server's list, from /web/policy.json) refuses any other category. */
export function parseCard(cardBytes, { categories = null } = {}) {
  const { protectedBytes, payloadBytes, signature, kid } = parseCoseSign1(cardBytes);
  const p = cborDecode(payloadBytes);
  need(p instanceof Map && [1, 4, 6, 7, 'ptc'].every((k) => p.has(k))
    && [...p.keys()].every((k) => [1, 4, 6, 7, 8, 'ptc'].includes(k)), 'payload keys');
  const ptc = exactKeys(p.get('ptc'), ['n', 'c', 'r', 'm', 'v', 's'], 'ptc');
  const cti = p.get(7);
  need(isBytes(cti) && cti.length === 16, 'cti');
  const claims = {
    iss: p.get(1),
    exp: p.get(4),
    iat: p.get(6),
    cardId: uuidOf(cti),
    number: ptc.get('n'),
    category: ptc.get('c'),
    region: ptc.get('r'),
    maskedName: ptc.get('m'),
    version: ptc.get('v'),
    statusIndex: ptc.get('s'),
    deviceKey: null,
  };
  need(isTime(claims.exp) && isTime(claims.iat), 'times');
  need(isInt(claims.version) && claims.version >= 1 && claims.version < MAX_TIME, 'version');
  need(isInt(claims.statusIndex) && claims.statusIndex >= 0 && claims.statusIndex < MAX_TIME, 'status index');
  need(typeof claims.iss === 'string' && REGION.test(claims.iss), 'iss');
  need(typeof claims.region === 'string' && REGION.test(claims.region), 'region');
  checkNumber(claims.number);
  need(typeof claims.category === 'string' && (!categories || categories.includes(claims.category)), 'category');
  checkMasked(claims.maskedName);
  if (p.has(8)) {
    const k = exactKeys(exactKeys(p.get(8), [1], 'cnf').get(1), [1, -1, -2, -3], 'COSE_Key');
    need(k.get(1) === 2 && k.get(-1) === 1 && isBytes(k.get(-2)) && isBytes(k.get(-3)), 'COSE_Key');
    need(k.get(-2).length === 32 && k.get(-3).length === 32, 'COSE_Key size');
    claims.deviceKey = { kty: 'EC', crv: 'P-256', x: b64u(k.get(-2)), y: b64u(k.get(-3)) };
  }
  return { cardBytes, protectedBytes, payloadBytes, signature, kid, claims };
}

/** Parse "PTC1:..." or "PTP1:..." text; throws Malformed. */
export function parseCredential(text, options = {}) {
  need(typeof text === 'string' && text.length <= 4 * MAX_TEXT_LENGTH, 'not a credential text');
  const t = text.trim();
  need(t.length <= MAX_TEXT_LENGTH, 'too long');
  const prefix = t.slice(0, 5);
  need(prefix === 'PTC1:' || prefix === 'PTP1:', 'prefix');
  const raw = b45decode(t.slice(5));
  need(raw.length > 0 && raw.length <= MAX_DECODED_BYTES, 'decoded length');
  if (prefix === 'PTC1:') {
    return { kind: 'static', card: parseCard(raw, options), presentation: null };
  }
  const outer = cborDecode(raw);
  need(Array.isArray(outer) && outer.length === 3, 'PTP1 shape');
  const [cardBytes, time, sig] = outer;
  need(isBytes(cardBytes) && isTime(time) && isBytes(sig) && sig.length === 64, 'PTP1 fields');
  const card = parseCard(cardBytes, options);
  need(card.claims.deviceKey !== null, 'a PTP1 card must carry its cnf key');
  return { kind: 'device_bound', card, presentation: { t: time, sig } };
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** kid = first 8 bytes of SHA-256 of the raw Ed25519 public key. */
export async function kidOf(rawPublicKey) {
  return b64u((await sha256(rawPublicKey)).slice(0, 8));
}

export async function verifyIssuer(card, rawPublicKey) {
  const key = await crypto.subtle.importKey('raw', rawPublicKey, { name: 'Ed25519' }, false, ['verify']);
  const toBeSigned = encode(['Signature1', card.protectedBytes, new Uint8Array(0), card.payloadBytes]);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, card.signature, toBeSigned);
}

const presentationInput = async (cardBytes, t) => encode(['PTP1', await sha256(cardBytes), t]);

export async function verifyPresentation(parsed) {
  const jwk = parsed.card.claims.deviceKey;
  if (!jwk) return false;
  try {
    const key = await crypto.subtle.importKey('jwk', { ...jwk, ext: true }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const data = await presentationInput(parsed.card.cardBytes, parsed.presentation.t);
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, parsed.presentation.sig, data);
  } catch {
    return false;
  }
}

/** A non-extractable P-256 key pair: the private half never leaves this browser. */
export async function newDeviceKey() {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

export async function publicJwk(keyPair) {
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** "PTP1:" + base45(CBOR [card bytes, t, ES256 raw r||s over CBOR ["PTP1", SHA-256(card), t]]). */
export async function makePresentation(ptc1Text, privateKey, t = Math.floor(Date.now() / 1000)) {
  const cardBytes = b45decode(String(ptc1Text).trim().slice(5));
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, await presentationInput(cardBytes, t)));
  return 'PTP1:' + b45encode(encode([cardBytes, t, sig]));
}
