// Service worker: keeps the pages and their scripts for offline use (SW_CONFIG is written in
// by the server: this deployment's version and file list). Pages: network first, cache as
// the fallback; static files: cache first (a new deployment gets a new cache). API calls are
// never cached here: the pages keep their own data (card, key, catalog, bundle) in IndexedDB.
/* global SW_CONFIG */
const CACHE = `cardservice-${SW_CONFIG.version}`;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(SW_CONFIG.precache.map((url) => cache.add(new Request(url, { cache: 'no-cache' })).catch(() => null)));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

const KEEP = ['/static/', '/web/regions.json'];
const FRESH = ['/web/policy.json'];

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Pages and the server's policy: the network's answer when there is one.
  if (req.mode === 'navigate' || FRESH.includes(url.pathname)) {
    event.respondWith((async () => {
      try {
        const fresh = await fetch(req);
        if (fresh.ok) (await caches.open(CACHE)).put(url.pathname, fresh.clone());
        return fresh;
      } catch {
        const cached = await caches.match(url.pathname);
        return cached || Response.error();
      }
    })());
    return;
  }
  if (KEEP.some((p) => url.pathname.startsWith(p))) {
    event.respondWith((async () => {
      const cached = await caches.match(req, { ignoreSearch: true });
      if (cached) return cached;
      const fresh = await fetch(req);
      if (fresh.ok) (await caches.open(CACHE)).put(req, fresh.clone());
      return fresh;
    })());
  }
});
