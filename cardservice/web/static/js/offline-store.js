// The merchant page's offline state on this device (IndexedDB): the keys pinned at set-up
// (plus the ones bundles signed by them vouched for) and the last bundle. The server is
// asked for /v1/keys once, at set-up; after that, a bundle counts only if a key already
// trusted here signed it, so a server cannot make this page trust a key of its choosing.
import { api, store } from '/static/js/app.js';
import { BundleRefused, openBundle, pinKeys, readMerchantPolicy } from '/static/js/offline.js';

const BUNDLE_KEY = 'merchant.bundle';
const TRUST_KEY = 'merchant.trust';

export const loadTrust = () => store.get(TRUST_KEY).catch(() => null);

/** Set-up: pin the keys the server lists now; the page shows their fingerprints. */
async function setUp() {
  const keys = await api('/v1/keys');
  if (!keys.ok) return { ok: false, offline: keys.offline, code: 'keys', detail: `HTTP ${keys.status}` };
  try {
    const trust = await pinKeys(keys.data);
    await store.put(TRUST_KEY, trust);
    return { ok: true, trust };
  } catch (err) {
    if (err instanceof BundleRefused) return { ok: false, offline: false, code: err.code, detail: err.message };
    throw err;
  }
}

/** Download, check and keep a new bundle with the merchant's policy (the `Merchant-Policy`
 * header beside it): {ok, bundle, trust, merchant, setUp} or {ok: false, code, detail}. */
export async function saveBundle(merchantKey) {
  let trust = await loadTrust();
  let first = false;
  if (!trust) {
    const made = await setUp();
    if (!made.ok) return made;
    trust = made.trust;
    first = true;
  }
  const got = await api('/v1/offline-bundle', { token: merchantKey, raw: true });
  if (!got.ok) return { ok: false, offline: got.offline, code: 'http', detail: got.data?.detail || `HTTP ${got.status}` };
  try {
    const opened = await openBundle(got.data, trust);
    const kept = await loadBundle();
    if (kept && opened.bundle.issuedAt < kept.bundle.issuedAt) {
      // A replayed older bundle could hide a revocation the newer one carries.
      return { ok: false, offline: false, code: 'older', detail: '' };
    }
    const policyText = got.headers?.get('Merchant-Policy') ?? null;
    await store.put(BUNDLE_KEY, { bytes: got.data, merchantPolicy: policyText, downloadedAt: Date.now() });
    await store.put(TRUST_KEY, opened.trust);
    return { ok: true, bundle: opened.bundle, trust: opened.trust, merchant: readMerchantPolicy(policyText), setUp: first };
  } catch (err) {
    if (err instanceof BundleRefused) return { ok: false, offline: false, code: err.code, detail: err.message };
    throw err;
  }
}

/** The kept bundle, re-checked with the trust on this device, expired or not, with the
 * merchant's policy kept beside it: {bundle, trust, merchant} or null. */
export async function loadBundle() {
  const saved = await store.get(BUNDLE_KEY).catch(() => null);
  const trust = await loadTrust();
  if (!saved || !trust) return null;
  try {
    const opened = await openBundle(saved.bytes, trust, Date.now() / 1000, { allowExpired: true });
    return { ...opened, merchant: readMerchantPolicy(saved.merchantPolicy ?? null) };
  } catch {
    return null;
  }
}

/** The merchant's own decision (after comparing fingerprints with the bureau): forget the
 * pinned keys and the kept bundle; the next download sets up again. Nothing the server
 * answers leads here. */
export async function forgetTrust() {
  await store.del(TRUST_KEY);
  await store.del(BUNDLE_KEY);
}
