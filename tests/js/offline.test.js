// The merchant page's pure modules against the shared golden vectors
// (tests/data/offline_vectors.json, written by `python -m tests.offline_vectors` and checked
// by the Python suite against merchant_api and `cardservice verify`). Run: node --test tests/js/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { CborError, decode, encode } from '../../cardservice/web/static/js/cbor.js';
import { BundleRefused, fingerprint, openBundle, pinKeys, readMerchantPolicy, verifyOffline } from '../../cardservice/web/static/js/offline.js';
import { Malformed, b64uDecode, parseCredential } from '../../cardservice/web/static/js/ptc.js';

const V = JSON.parse(readFileSync(new URL('../data/offline_vectors.json', import.meta.url), 'utf-8'));
const NOW = V.now;
const bytesOf = (name) => Uint8Array.from(Buffer.from(V.bundles[name].cose, 'base64'));
// The merchant's policy as the page reads it from the bundle's `Merchant-Policy` header.
const MERCHANT = readMerchantPolicy(JSON.stringify(V.merchant_policy));

async function pinned() {
  return pinKeys(V.trust, NOW);
}

async function trustFor(spec) {
  const trust = await pinned();
  if (spec === 'pinned') return trust;
  const [, after] = spec.split(':');
  return (await openBundle(bytesOf(after), trust, NOW)).trust;
}

async function mainBundle() {
  return (await openBundle(bytesOf('main'), await pinned(), NOW)).bundle;
}

for (const vector of V.credentials) {
  test(`credential ${vector.name} → ${vector.expect}`, async () => {
    const bundle = (await openBundle(bytesOf(vector.bundle), await pinned(), NOW)).bundle;
    const verdict = await verifyOffline(bundle, vector.qr, V.policy, NOW, { merchant: MERCHANT });
    assert.equal(verdict.status, vector.expect);
    assert.equal(verdict.valid, vector.expect === 'valid');
    // The card is shown only once its issuer signature is trusted, as the server does.
    const trusted = V.policy.verdict_statuses.slice(V.policy.verdict_statuses.indexOf('stale_presentation'));
    assert.equal(verdict.card !== null, trusted.includes(vector.expect));
  });
}

for (const [name, vector] of Object.entries(V.bundles)) {
  test(`bundle ${name} → ${vector.expect}`, async () => {
    const trust = await trustFor(vector.trust);
    if (vector.expect === 'ok') {
      const { bundle } = await openBundle(bytesOf(name), trust, NOW);
      assert.equal(bundle.expired, false);
    } else {
      await assert.rejects(openBundle(bytesOf(name), trust, NOW), (err) => err instanceof BundleRefused && err.code === vector.expect);
    }
  });
}

test('keys have a use: a bundle key verifies no card, a card key signs no bundle', async () => {
  const trust = await pinned();
  assert.deepEqual(trust.keys.map((k) => k.use).sort(), ['bundle', 'card']);
  const { bundle } = await openBundle(bytesOf('main'), trust, NOW);
  for (const name of ['card_signed_by_a_bundle_key', 'card_signed_by_a_vouched_bundle_key']) {
    const qr = V.credentials.find((v) => v.name === name).qr;
    const verdict = await verifyOffline(bundle, qr, V.policy, NOW, { merchant: MERCHANT });
    assert.equal(verdict.status, 'unknown_key', name);
    assert.equal(verdict.card, null);
  }
  await assert.rejects(openBundle(bytesOf('signed_by_a_card_key'), trust, NOW), (err) => err.code === 'wrong_use');
  // A pinned key keeps its use whatever a later bundle says, and an unknown use is refused.
  const odd = structuredClone(V.trust);
  odd.keys[0].use = 'both';
  await assert.rejects(pinKeys(odd, NOW), (err) => err instanceof BundleRefused && err.code === 'unreadable');
  // A key listed without a use (a /v1/keys answer from before uses) is a card key.
  const legacy = structuredClone(V.trust);
  delete legacy.keys[1].use;
  const legacyTrust = await pinKeys(legacy, NOW);
  await assert.rejects(openBundle(bytesOf('main'), legacyTrust, NOW), (err) => err.code === 'wrong_use');
});

test('the merchant policy comes from the header beside the bundle, not from the payload', async () => {
  const bundle = await mainBundle();
  assert.equal('merchant' in bundle, false);
  assert.deepEqual(MERCHANT, V.merchant_policy);
  const valid = V.credentials.find((v) => v.name === 'valid_ptc1').qr;
  const strict = readMerchantPolicy(JSON.stringify({ ...V.merchant_policy, require_device_binding: true }));
  assert.equal((await verifyOffline(bundle, valid, V.policy, NOW, { merchant: strict })).status, 'static_not_allowed');
  assert.equal((await verifyOffline(bundle, valid, V.policy, NOW, { merchant: MERCHANT })).status, 'valid');
  for (const bad of [null, '', 'not json', '[1]', '{"categories": "dining"}']) {
    const read = readMerchantPolicy(bad);
    assert.ok(read === null || (read.categories.length === 0 && read.require_device_binding === false), String(bad));
  }
});

test('pinning shows each key with the fingerprint Python computes', async () => {
  const trust = await pinned();
  assert.equal(trust.keys.length, V.trust.keys.length);
  for (const k of trust.keys) {
    assert.equal(k.fingerprint, V.fingerprints[k.kid]);
    assert.equal(k.fingerprint, await fingerprint(b64uDecode(k.x)));
    assert.equal(k.source, 'pinned');
  }
});

test('a pinned list whose kid does not match its key is refused whole', async () => {
  const forged = structuredClone(V.trust);
  forged.keys[1].kid = forged.keys[0].kid;
  await assert.rejects(pinKeys(forged, NOW), BundleRefused);
  await assert.rejects(pinKeys({ keys: [] }, NOW), BundleRefused);
  await assert.rejects(pinKeys(null, NOW), BundleRefused);
});

test('a bundle signed by a pinned key vouches for the new keys it lists', async () => {
  const { trust } = await openBundle(bytesOf('main'), await pinned(), NOW);
  const vouched = trust.keys.filter((k) => k.source === 'vouched');
  assert.deepEqual(vouched.map((k) => k.fingerprint).sort(), vouched.map((k) => V.fingerprints[k.kid]).sort());
  assert.ok(vouched.length >= 2 && vouched.every((k) => k.vouchedBy === V.trust.keys[1].kid));
  // The newer word: a key the bundle calls compromised is compromised, and stays so.
  const compromised = trust.keys.find((k) => k.status === 'compromised');
  assert.ok(compromised);
  const again = await openBundle(bytesOf('vouched_signer'), trust, NOW);
  assert.equal(again.trust.keys.find((k) => k.kid === compromised.kid).status, 'compromised');
});

test('an expired bundle verifies nothing, not even a valid card', async () => {
  const trust = await pinned();
  await assert.rejects(openBundle(bytesOf('expired'), trust, NOW), (err) => err.code === 'expired');
  const { bundle } = await openBundle(bytesOf('expired'), trust, NOW, { allowExpired: true });
  assert.equal(bundle.expired, true);
  for (const vector of V.credentials) {
    const verdict = await verifyOffline(bundle, vector.qr, V.policy, NOW);
    assert.equal(verdict.refused, 'bundle_expired');
    assert.equal(verdict.valid, false);
  }
});

test('a fresh bundle becomes expired when its time is up; a clock set back does not revive it', async () => {
  const bundle = await mainBundle();
  const valid = V.credentials.find((v) => v.name === 'valid_ptc1').qr;
  assert.equal((await verifyOffline(bundle, valid, V.policy, NOW)).status, 'valid');
  assert.equal((await verifyOffline(bundle, valid, V.policy, bundle.expires + 1)).refused, 'bundle_expired');
  // A device clock before the bundle was issued is read as the bundle's own time.
  const stale = V.credentials.find((v) => v.name === 'stale_ptp1').qr;
  assert.equal((await verifyOffline(bundle, stale, V.policy, bundle.issuedAt - 10 * 86400)).status, 'stale_presentation');
});

test('a device-binding merchant refuses a static card', async () => {
  const bundle = await mainBundle();
  const valid = V.credentials.find((v) => v.name === 'valid_ptc1').qr;
  const ptp = V.credentials.find((v) => v.name === 'valid_ptp1').qr;
  assert.equal((await verifyOffline(bundle, valid, V.policy, NOW, { requireDeviceBinding: true })).status, 'static_not_allowed');
  assert.equal((await verifyOffline(bundle, ptp, V.policy, NOW, { requireDeviceBinding: true })).status, 'valid');
});

test('the page reads only categories the server lists', async () => {
  const valid = V.credentials.find((v) => v.name === 'valid_ptc1').qr;
  assert.throws(() => parseCredential(valid, { categories: ['martyr_family'] }), Malformed);
  assert.equal(parseCredential(valid, { categories: V.policy.holder_categories }).card.claims.category, 'veteran');
});

test('strict CBOR: shortest heads, definite lengths, no duplicates, nothing after the item', () => {
  const bad = {
    'non-shortest int': [0x18, 0x01],
    'non-shortest length': [0x59, 0x00, 0x01, 0x41],
    'non-shortest 4-byte': [0x1a, 0x00, 0x00, 0xff, 0xff],
    'indefinite array': [0x9f, 0x01, 0xff],
    'indefinite bytes': [0x5f, 0x41, 0x00, 0xff],
    'duplicate key': [0xa2, 0x01, 0x01, 0x01, 0x02],
    'trailing byte': [0x01, 0x00],
    'truncated': [0x43, 0x01],
    'huge length': [0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
    'float': [0xf9, 0x3c, 0x00],
    'undefined': [0xf7],
    'other tag': [0xc1, 0x01],
    'bad utf-8': [0x61, 0xff],
    'too deep': [0x81, 0x81, 0x81, 0x81, 0x81, 0x01],
    'reserved head': [0x1c],
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assert.throws(() => decode(Uint8Array.from(bytes)), CborError, what);
  }
  const many = [0x98, 65, ...Array(65).fill(0)];
  assert.throws(() => decode(Uint8Array.from(many)), CborError, 'too many items');
  assert.deepEqual(decode(Uint8Array.from([0x82, 0x18, 0x18, 0x20])), [24, -1]);
});

test('canonical encoding round-trips and sorts map keys as the server does', () => {
  const value = new Map([['ptc', 1], [4, 2], [1, 3], [-1, 4]]);
  const bytes = encode(value);
  assert.deepEqual([...bytes], [0xa4, 0x01, 0x03, 0x04, 0x02, 0x20, 0x04, 0x63, 0x70, 0x74, 0x63, 0x01]);
  assert.deepEqual(decode(bytes), value);
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -25, -257]) {
    assert.equal(decode(encode(n)), n);
  }
});
