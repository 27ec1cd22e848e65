// Shared by every page: language (zh-CN by default, English remembered locally), API calls,
// a small IndexedDB store and DOM helpers. No framework.
import { POLICY } from '/static/js/policy.js';

const LANG_KEY = 'cardservice.lang';
let dict = {};
let lang = 'zh-CN';

export function currentLang() {
  return lang;
}

export function t(key, vars = {}) {
  const table = dict[lang] || {};
  let text = table[key] ?? dict['zh-CN']?.[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** A translated label for a code in a namespace ("status.revoked"), or the code itself. */
export function label(ns, code) {
  const key = `${ns}.${code}`;
  const text = t(key);
  return text === key ? String(code) : text;
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

const listeners = [];
export function onLangChange(fn) {
  listeners.push(fn);
}

function setLang(next) {
  lang = next;
  try { localStorage.setItem(LANG_KEY, next); } catch { /* private mode: not remembered */ }
  document.documentElement.lang = next;
  markSwitch();
  applyI18n();
  for (const fn of listeners) fn(next);
}

export async function initI18n() {
  try {
    const resp = await fetch(document.documentElement.dataset.i18n || '/static/i18n.json');
    dict = await resp.json();
  } catch {
    dict = {};
  }
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch { /* ignore */ }
  lang = saved === 'en' ? 'en' : 'zh-CN';
  document.documentElement.lang = lang;
  if (lang !== 'zh-CN') applyI18n();
  document.documentElement.classList.remove('i18n-pending');
  markSwitch();
  const button = document.getElementById('lang-switch');
  if (button) button.addEventListener('click', () => setLang(lang === 'en' ? 'zh-CN' : 'en'));
  document.dispatchEvent(new Event('i18n-ready'));
}

/** The switch names the other language, in that language. */
function markSwitch() {
  const button = document.getElementById('lang-switch');
  if (button) button.lang = lang === 'en' ? 'zh-CN' : 'en';
}

/** JSON API call; never throws: {ok, status, data, offline}. */
export async function api(path, { method = 'GET', token = null, body = undefined, headers = {}, raw = false } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    return { ok: false, status: 0, data: null, offline: true };
  }
  let data = null;
  if (raw) {
    data = resp.ok ? new Uint8Array(await resp.arrayBuffer()) : null;
    if (!resp.ok) { try { data = await resp.json(); } catch { data = null; } }
  } else {
    try { data = await resp.json(); } catch { data = null; }
  }
  return { ok: resp.ok, status: resp.status, data, offline: false, headers: resp.headers };
}

export function errorText(result) {
  if (result.offline) return t('common.network');
  const detail = result.data?.detail || result.data?.error || `HTTP ${result.status}`;
  return t('common.error', { detail: typeof detail === 'string' ? detail : JSON.stringify(detail) });
}

// ---- IndexedDB: one database, one object store of keyed records (CryptoKeys clone fine).
const DB_NAME = 'cardservice';
let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('kv');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

function tx(mode, fn) {
  return db().then((d) => new Promise((resolve, reject) => {
    const store = d.transaction('kv', mode).objectStore('kv');
    const req = fn(store);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  }));
}

export const store = {
  get: (key) => tx('readonly', (s) => s.get(key)),
  put: (key, value) => tx('readwrite', (s) => s.put(value, key)),
  del: (key) => tx('readwrite', (s) => s.delete(key)),
};

// ---- DOM helpers.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function show(el, visible = true) {
  if (typeof el === 'string') el = document.getElementById(el);
  if (el) el.hidden = !visible;
}

export function setText(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

export function fmtDateTime(value) {
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { timeZone: POLICY?.time_zone, dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('time.seconds', { n: s });
  if (s < 3600) return t('time.minutes', { n: Math.floor(s / 60) });
  if (s < 86400 * 2) return t('time.hours', { n: Math.floor(s / 3600) });
  return t('time.days', { n: Math.floor(s / 86400) });
}

/** Today's date in the contract's time zone as YYYY-MM-DD (the contract's calendar). */
export function todayShanghai(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: POLICY?.time_zone }).format(d);
}

export function registerServiceWorker() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => { /* pages still work online */ });
  }
}

export function onlineBanner(id = 'offline-banner') {
  const update = () => show(id, !navigator.onLine);
  window.addEventListener('online', update);
  window.addEventListener('offline', update);
  update();
}
