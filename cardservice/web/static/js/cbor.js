// Strict CBOR (RFC 8949) for untrusted QR codes and bundles: the verifier's reading is the
// server's. Decoding refuses every byte form a canonical encoder cannot produce (a length
// or an integer not in its shortest head, indefinite lengths, reserved heads), duplicate map
// keys, trailing bytes, invalid UTF-8, tags other than COSE_Sign1 (18), floats and
// `undefined`; it checks every length against what is left before reading it and bounds
// nesting and item count. Pure: no DOM, no I/O (node's test runner loads it as it is).

export class CborError extends Error {}

/** A CBOR tag around a value (only tag 18, COSE_Sign1, is ever decoded). */
export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

export const COSE_SIGN1_TAG = 18;
const ALLOWED_TAGS = new Set([COSE_SIGN1_TAG]);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Decode exactly one item that fills `bytes`; CborError otherwise.
 * `maxDepth` counts containers and tags (the server's credential limit is 4),
 * `maxItems` array elements plus map keys and values.
 */
export function decode(bytes, { maxDepth = 4, maxItems = 64 } = {}) {
  if (!(bytes instanceof Uint8Array)) throw new CborError('not bytes');
  const state = { bytes, pos: 0, items: 0, maxDepth, maxItems };
  const value = item(state, 1);
  if (state.pos !== bytes.length) throw new CborError('trailing bytes after the CBOR item');
  return value;
}

function need(state, n) {
  if (n > state.bytes.length - state.pos) throw new CborError('truncated');
}

/** The head's argument, refusing any but the shortest encoding of it. */
function argument(state, info) {
  if (info < 24) return info;
  if (info > 27) throw new CborError(info === 31 ? 'indefinite length' : 'reserved head');
  const size = 1 << (info - 24);
  need(state, size);
  let value = 0;
  for (let i = 0; i < size; i += 1) value = value * 256 + state.bytes[state.pos + i];
  state.pos += size;
  const least = [24, 0x100, 0x10000, 0x100000000][info - 24];
  if (value < least) throw new CborError('not the shortest encoding of a length or integer');
  if (!Number.isSafeInteger(value)) throw new CborError('integer out of range');
  return value;
}

function count(state, n) {
  state.items += n;
  if (state.items > state.maxItems) throw new CborError(`more than ${state.maxItems} items`);
}

function item(state, depth) {
  need(state, 1);
  const initial = state.bytes[state.pos];
  state.pos += 1;
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (major === 7) {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    throw new CborError('unsupported simple value or float');
  }
  const arg = argument(state, info);
  switch (major) {
    case 0: return arg;
    case 1: return -1 - arg;
    case 2: {
      need(state, arg);
      const out = state.bytes.slice(state.pos, state.pos + arg);
      state.pos += arg;
      return out;
    }
    case 3: {
      need(state, arg);
      let text;
      try {
        text = utf8.decode(state.bytes.subarray(state.pos, state.pos + arg));
      } catch {
        throw new CborError('text is not UTF-8');
      }
      state.pos += arg;
      return text;
    }
    default: break;
  }
  if (depth > state.maxDepth) throw new CborError(`nested deeper than ${state.maxDepth}`);
  if (major === 4) {
    count(state, arg);
    need(state, arg); // every element takes at least one byte
    const out = [];
    for (let i = 0; i < arg; i += 1) out.push(item(state, depth + 1));
    return out;
  }
  if (major === 5) {
    count(state, 2 * arg);
    need(state, 2 * arg);
    const out = new Map();
    const seen = new Set();
    for (let i = 0; i < arg; i += 1) {
      const start = state.pos;
      const key = item(state, depth + 1);
      const raw = keyOf(state.bytes.subarray(start, state.pos));
      if (seen.has(raw)) throw new CborError('duplicate map key');
      seen.add(raw);
      out.set(key, item(state, depth + 1));
    }
    return out;
  }
  // major 6: a tag
  if (!ALLOWED_TAGS.has(arg)) throw new CborError(`tag ${arg} is not allowed`);
  count(state, 1);
  return new Tagged(arg, item(state, depth + 1));
}

/** Canonical keys have one byte form each, so equal keys have equal encoded bytes. */
function keyOf(raw) {
  let s = '';
  for (const b of raw) s += String.fromCharCode(b);
  return s;
}

// ---- canonical encoding (RFC 8949 §4.2.1: shortest heads, definite lengths, sorted keys)

function head(major, value, out) {
  const mt = major << 5;
  if (value < 24) out.push(mt | value);
  else if (value < 0x100) out.push(mt | 24, value);
  else if (value < 0x10000) out.push(mt | 25, value >> 8, value & 0xff);
  else if (value < 0x100000000) out.push(mt | 26, (value >>> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
  else {
    const hi = Math.floor(value / 0x100000000);
    const lo = value >>> 0;
    out.push(mt | 27, (hi >>> 24) & 0xff, (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff,
      (lo >>> 24) & 0xff, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff);
  }
}

function compareBytes(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function put(value, out) {
  if (value === null) out.push(0xf6);
  else if (value === true) out.push(0xf5);
  else if (value === false) out.push(0xf4);
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new CborError('only safe integers are encoded');
    if (value >= 0) head(0, value, out);
    else head(1, -1 - value, out);
  } else if (typeof value === 'string') {
    const bytes = utf8Encoder.encode(value);
    head(3, bytes.length, out);
    for (const b of bytes) out.push(b);
  } else if (value instanceof Uint8Array) {
    head(2, value.length, out);
    for (const b of value) out.push(b);
  } else if (Array.isArray(value)) {
    head(4, value.length, out);
    for (const v of value) put(v, out);
  } else if (value instanceof Tagged) {
    head(6, value.tag, out);
    put(value.value, out);
  } else if (value instanceof Map || typeof value === 'object') {
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const encoded = entries.map(([k, v]) => [encode(k), v]).sort((a, b) => compareBytes(a[0], b[0]));
    head(5, encoded.length, out);
    for (const [k, v] of encoded) {
      for (const b of k) out.push(b);
      put(v, out);
    }
  } else {
    throw new CborError(`cannot encode ${typeof value}`);
  }
}

/** Canonical CBOR bytes of ints, text, bytes, arrays, maps (Map or object), tags, bool, null. */
export function encode(value) {
  const out = [];
  put(value, out);
  return new Uint8Array(out);
}
