// PTC1 / PTP1 credentials in the browser (DESIGN §3): strict base45, CBOR via cborg,
// COSE_Sign1 with Ed25519 and the holder's ES256 presentation, all with WebCrypto.
import { decode, encode, Tagged } from '/static/vendor/cborg/cborg.js';

const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const DECODE_OPTS = { useMaps: true, rejectDuplicateMapKeys: true, tags: { 18: Tagged.decoder(18) } };

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

export function cborDecode(bytes) {
  try {
    return decode(bytes, DECODE_OPTS);
  } catch (err) {
    throw new Malformed(`cbor: ${err.message}`);
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

/** A tagged COSE_Sign1 with EdDSA: {protectedBytes, payloadBytes, signature, kid}. */
export function parseCoseSign1(bytes) {
  const cose = cborDecode(bytes);
  need(cose instanceof Tagged && cose.tag === 18, 'not a tagged COSE_Sign1');
  const arr = cose.value;
  need(Array.isArray(arr) && arr.length === 4, 'COSE_Sign1 shape');
  const [protectedBytes, unprotected, payloadBytes, signature] = arr;
  need(isBytes(protectedBytes) && isBytes(payloadBytes) && isBytes(signature), 'COSE fields');
  need(unprotected instanceof Map, 'unprotected header');
  need(signature.length === 64, 'signature length');
  const header = cborDecode(protectedBytes);
  need(header instanceof Map && header.get(1) === -8, 'algorithm');
  const kid = header.get(4);
  need(isBytes(kid), 'kid');
  return { protectedBytes, payloadBytes, signature, kid: b64u(kid) };
}

/** Parse the COSE_Sign1 card bytes into {protectedBytes, payloadBytes, signature, kid, claims}. */
export function parseCard(cardBytes) {
  const { protectedBytes, payloadBytes, signature, kid } = parseCoseSign1(cardBytes);
  const p = cborDecode(payloadBytes);
  need(p instanceof Map, 'payload');
  const ptc = p.get('ptc');
  need(ptc instanceof Map, 'ptc claims');
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
  need(typeof claims.iss === 'string' && isInt(claims.exp) && isInt(claims.iat), 'times');
  need(typeof claims.number === 'string' && typeof claims.category === 'string', 'ptc');
  need(typeof claims.region === 'string' && typeof claims.maskedName === 'string', 'ptc');
  need(isInt(claims.version) && isInt(claims.statusIndex), 'ptc version/index');
  const cnf = p.get(8);
  if (cnf !== undefined) {
    need(cnf instanceof Map && cnf.get(1) instanceof Map, 'cnf');
    const k = cnf.get(1);
    need(k.get(1) === 2 && k.get(-1) === 1 && isBytes(k.get(-2)) && isBytes(k.get(-3)), 'COSE_Key');
    need(k.get(-2).length === 32 && k.get(-3).length === 32, 'COSE_Key size');
    claims.deviceKey = { kty: 'EC', crv: 'P-256', x: b64u(k.get(-2)), y: b64u(k.get(-3)) };
  }
  return { cardBytes, protectedBytes, payloadBytes, signature, kid, claims };
}

/** Parse "PTC1:..." or "PTP1:..." text; throws Malformed. */
export function parseCredential(text) {
  const t = String(text).trim();
  if (t.startsWith('PTC1:')) {
    return { kind: 'static', card: parseCard(b45decode(t.slice(5))), presentation: null };
  }
  if (t.startsWith('PTP1:')) {
    const outer = cborDecode(b45decode(t.slice(5)));
    need(Array.isArray(outer) && outer.length === 3, 'PTP1 shape');
    const [cardBytes, time, sig] = outer;
    need(isBytes(cardBytes) && isInt(time) && isBytes(sig) && sig.length === 64, 'PTP1 fields');
    return { kind: 'device_bound', card: parseCard(cardBytes), presentation: { t: time, sig } };
  }
  throw new Malformed('prefix');
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
