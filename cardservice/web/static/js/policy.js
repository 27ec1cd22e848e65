// The server's facts (GET /web/policy.json: holder categories, verdict statuses, status-list
// codes, time zone, presentation window, clock skew, refresh period), each defined once in
// Python; the last copy is kept so the pages work offline. Never re-typed here.
const SAVED = 'cardservice.policy';

async function load() {
  try {
    const resp = await fetch('/web/policy.json', { cache: 'no-cache' });
    if (resp.ok) {
      const policy = await resp.json();
      try { localStorage.setItem(SAVED, JSON.stringify(policy)); } catch { /* private mode */ }
      return policy;
    }
  } catch { /* offline: the saved copy */ }
  try {
    return JSON.parse(localStorage.getItem(SAVED));
  } catch {
    return null;
  }
}

/** The policy document, or null when it was never fetched on this device. */
export const POLICY = Object.freeze(await load());
