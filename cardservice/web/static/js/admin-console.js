// The bureau console's lists: card search, tokens (list, mint, revoke), imports (upload,
// progress bar, rejects download) and the audit viewer; merchants in admin_merchants.js.
// Regions are picked by name (the served region table); nothing is put in as HTML.
import { api, errorText, fmtDateTime, h, label, setText, show, t } from '/static/js/app.js';
import { renderRecords } from '/static/js/admin_card_records.js';
import { initMerchants } from '/static/js/admin_merchants.js';
import { regionFullName, regionName } from '/static/js/regions.js';

let ctx = null; // { token: () => string, openCard: (cardId) => Promise }

function msg(id, text, kind = '') {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = `message ${kind ? `message-${kind}` : ''}`;
}

// ---- regions by name
let byName = new Map();

/** Fill the names datalist: "重庆市 渝北区" -> 500112; short names too where unique. */
export function fillRegionNames(names) {
  const counts = new Map();
  byName = new Map();
  for (const code of Object.keys(names)) {
    const full = regionFullName(code);
    byName.set(full, code);
    const short = names[code];
    counts.set(short, (counts.get(short) || 0) + 1);
  }
  for (const code of Object.keys(names)) if (counts.get(names[code]) === 1 && !byName.has(names[code])) byName.set(names[code], code);
  const options = Object.keys(names).sort().map((code) => h('option', { value: regionFullName(code) }));
  document.getElementById('region-names').replaceChildren(...options);
}

/** The code an input names: a 6-digit code as typed, or a region's name. */
export function regionCode(input) {
  const value = input.value.trim();
  if (!value) return '';
  if (/^[0-9]{6}$/.test(value)) return value;
  return byName.get(value) || byName.get(value.replace(/\s+/g, ' ')) || null;
}

function regionParam(id, params, msgId) {
  const code = regionCode(document.getElementById(id));
  if (code === null) {
    msg(msgId, t('admin.region.unknown'), 'error');
    document.getElementById(id).focus();
    return false;
  }
  if (code) params.set('region', code);
  return true;
}

function place(code) {
  return `${regionFullName(code) || regionName(code)} (${code})`;
}

// ---- search
let searchQuery = null;

async function search(e, more = false) {
  e?.preventDefault();
  if (!more) {
    const params = new URLSearchParams();
    const by = document.getElementById('search-by').value;
    const term = document.getElementById('search-term').value.trim();
    if (by && !term) {
      msg('search-msg', t('admin.search.need_term'), 'error');
      document.getElementById('search-term').focus();
      return;
    }
    if (by) params.set(by, term);
    if (!regionParam('search-region', params, 'search-msg')) return;
    const status = document.getElementById('search-status').value;
    if (status) params.set('status', status);
    params.set('limit', '20');
    searchQuery = params;
    document.querySelector('#search-table tbody').replaceChildren();
  }
  const got = await api(`/v1/admin/cards?${searchQuery}`, { token: ctx.token() });
  if (!got.ok) {
    msg('search-msg', errorText(got), 'error');
    return;
  }
  const body = document.querySelector('#search-table tbody');
  body.append(...got.data.items.map((c) => h('tr', {},
    h('td', {}, h('button', { type: 'button', class: 'link-button mono', onclick: () => ctx.openCard(c.card_id) }, c.card_number)),
    h('td', {}, c.masked_name), h('td', {}, label('category', c.category)), h('td', {}, place(c.region)),
    h('td', {}, label('status', c.status)), h('td', {}, fmtDateTime(c.issued_at)))));
  const count = body.children.length;
  msg('search-msg', count ? t('admin.search.count', { n: count }) : t('admin.search.none'), count ? 'ok' : '');
  show('search-results', count > 0);
  if (got.data.next) searchQuery.set('cursor', got.data.next);
  show('search-more', Boolean(got.data.next));
  if (count === 1 && !more && searchQuery.has('id_number')) ctx.openCard(got.data.items[0].card_id);
}

// ---- holder services on the card detail: shown only where the server has them
let paths = null;

async function servicePaths() {
  if (paths) return paths;
  const got = await api('/openapi.json');
  paths = new Set(got.ok ? Object.keys(got.data.paths || {}) : []);
  return paths;
}

export async function renderServices(card) {
  const have = await servicePaths();
  const id = encodeURIComponent(card.card_id);
  const links = [];
  const fetchLink = (key, path, filename) => h('button', { type: 'button', class: 'btn', onclick: () => download(path, filename) }, t(key));
  if (have.has('/v1/admin/cards/{card_id}/card.pdf') && !card.device_bound) links.push(fetchLink('admin.card.print', `/v1/admin/cards/${id}/card.pdf`, `${card.card_number}.pdf`));
  if (have.has('/v1/admin/cards/{card_id}/photo')) {
    const input = h('input', { type: 'file', accept: 'image/jpeg,image/png', id: 'card-photo', hidden: true, onchange: (e) => photo(card, e.target.files[0]) });
    links.push(h('label', { for: 'card-photo', class: 'btn', tabindex: '0', onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') input.click(); } }, t('admin.card.photo')), input);
  }
  if (have.has('/v1/admin/cards/{card_id}/unbind') && card.device_bound) links.push(h('button', { type: 'button', class: 'btn', onclick: () => unbind(card) }, t('admin.card.unbind')));
  const nav = document.getElementById('card-services');
  nav.replaceChildren(...links);
  show(nav, links.length > 0);
  await renderRecords(card, have, ctx.token());
}

async function photo(card, file) {
  if (!file) return;
  let resp;
  try {
    resp = await fetch(`/v1/admin/cards/${card.card_id}/photo`, { method: 'PUT', headers: { Authorization: `Bearer ${ctx.token()}`, 'Content-Type': file.type }, body: file });
  } catch {
    msg('card-msg', t('common.network'), 'error');
    return;
  }
  const data = resp.ok ? null : await resp.json().catch(() => null);
  msg('card-msg', resp.ok ? t('admin.card.photo.saved') : errorText({ ok: false, status: resp.status, data }), resp.ok ? 'ok' : 'error');
}

async function unbind(card) {
  const reason = document.getElementById('status-reason').value.trim();
  if (!reason) {
    msg('card-msg', t('admin.cards.reason.required'), 'error');
    document.getElementById('status-reason').focus();
    return;
  }
  const got = await api(`/v1/admin/cards/${card.card_id}/unbind`, { method: 'POST', token: ctx.token(), body: { reason }, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  msg('card-msg', got.ok ? t('admin.card.unbound') : errorText(got), got.ok ? 'ok' : 'error');
  if (got.ok) ctx.openCard(card.card_id);
}

/** A download that needs the token: fetch, then save the blob under a name. */
async function download(path, filename) {
  const got = await api(path, { token: ctx.token(), raw: true });
  if (!got.ok) return false;
  const url = URL.createObjectURL(new Blob([got.data], { type: got.headers.get('content-type') || 'application/octet-stream' }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return true;
}

// ---- tokens
async function listTokens() {
  const got = await api('/v1/admin/tokens', { token: ctx.token() });
  if (!got.ok) {
    msg('tk-msg', errorText(got), 'error');
    return;
  }
  const state = (k) => (k.revoked ? t('admin.tokens.state.revoked') : k.expired ? t('admin.tokens.state.expired') : t('admin.tokens.state.active'));
  document.querySelector('#tk-table tbody').replaceChildren(...got.data.items.map((k) => h('tr', {},
    h('td', {}, t(`role.${k.role}`)), h('td', {}, place(k.region)), h('td', {}, fmtDateTime(k.created_at)),
    h('td', {}, fmtDateTime(k.expires_at)), h('td', {}, state(k)),
    h('td', {}, k.revoked ? '' : h('button', { type: 'button', class: 'btn btn-danger', 'aria-label': `${t('admin.tokens.revoke')} ${k.token_id}`, onclick: () => revokeToken(k) }, t('admin.tokens.revoke'))))));
}

async function mintToken(e) {
  e.preventDefault();
  const region = regionCode(document.getElementById('tk-region'));
  if (!region) {
    msg('tk-msg', t('admin.region.unknown'), 'error');
    return;
  }
  const body = { role: document.getElementById('tk-role').value, region, expires_in_days: Number(document.getElementById('tk-days').value) };
  const got = await api('/v1/admin/tokens', { method: 'POST', token: ctx.token(), body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    show('tk-result', false);
    msg('tk-msg', errorText(got), 'error');
    return;
  }
  setText('tk-out', got.data.token);
  show('tk-result', true);
  msg('tk-msg', t('admin.tokens.minted', { when: fmtDateTime(got.data.expires_at) }), 'ok');
  setTimeout(listTokens, 500);
}

async function revokeToken(k) {
  // eslint-disable-next-line no-alert
  if (!window.confirm(t('admin.tokens.revoke.confirm'))) return;
  const got = await api(`/v1/admin/tokens/${k.token_id}/revoke`, { method: 'POST', token: ctx.token(), body: { reason: 'console' } });
  msg('tk-msg', got.ok ? t('admin.tokens.revoked') : errorText(got), got.ok ? 'ok' : 'error');
  setTimeout(listTokens, 500);
}

// ---- imports
let polling = null;

async function startImport(e) {
  e.preventDefault();
  const file = document.getElementById('im-file').files[0];
  if (!file) return;
  const headers = { Authorization: `Bearer ${ctx.token()}`, 'Content-Type': 'text/csv', 'Idempotency-Key': crypto.randomUUID() };
  let resp;
  try {
    resp = await fetch('/v1/admin/imports', { method: 'POST', headers, body: file });
  } catch {
    msg('im-msg', t('common.network'), 'error');
    return;
  }
  const data = await resp.json().catch(() => null);
  if (resp.status !== 202) {
    msg('im-msg', errorText({ ok: false, status: resp.status, data }), 'error');
    return;
  }
  msg('im-msg', t('admin.imports.started'), 'ok');
  show('im-rejects', false);
  show('im-progress-box', true);
  clearTimeout(polling);
  poll(data.import_id);
}

async function poll(importId) {
  const got = await api(`/v1/admin/imports/${importId}`, { token: ctx.token() });
  if (!got.ok) {
    msg('im-msg', errorText(got), 'error');
    return;
  }
  const s = got.data;
  const done = s.imported + s.skipped + s.rejected;
  const bar = document.getElementById('im-progress');
  bar.max = Math.max(1, s.total);
  bar.value = s.status === 'running' ? done : bar.max;
  setText('im-counts', t('admin.imports.counts', { done, total: s.total, imported: s.imported, skipped: s.skipped, rejected: s.rejected }));
  if (s.status === 'running') {
    polling = setTimeout(() => poll(importId), 500);
    return;
  }
  if (s.status === 'failed') msg('im-msg', t('admin.imports.failed', { reason: s.reason }), 'error');
  else msg('im-msg', t('admin.imports.done'), s.rejected ? 'error' : 'ok');
  const link = document.getElementById('im-rejects');
  link.onclick = (ev) => { ev.preventDefault(); download(`/v1/admin/imports/${importId}/rejects.csv`, `rejects-${importId}.csv`); };
  show(link, s.rejected > 0);
}

// ---- audit
let auditQuery = null;

async function audit(e, more = false) {
  e?.preventDefault();
  if (!more) {
    const params = new URLSearchParams({ limit: '50' });
    if (!regionParam('au-region', params, 'au-msg')) return;
    const card = document.getElementById('au-card').value.trim();
    const actor = document.getElementById('au-actor').value.trim();
    const since = document.getElementById('au-since').value;
    const until = document.getElementById('au-until').value;
    if (card) params.set('card', card);
    if (actor) params.set('actor', actor);
    if (since) params.set('since', `${since}T00:00:00+08:00`);
    if (until) params.set('until', `${until}T23:59:59+08:00`);
    auditQuery = params;
    document.querySelector('#au-table tbody').replaceChildren();
  }
  const got = await api(`/v1/admin/audit?${auditQuery}`, { token: ctx.token() });
  if (!got.ok) {
    msg('au-msg', errorText(got), 'error');
    return;
  }
  document.querySelector('#au-table tbody').append(...got.data.items.map((a) => h('tr', {},
    h('td', {}, fmtDateTime(a.at)), h('td', {}, eventWords(a.type)), h('td', {}, a.region ? place(a.region) : ''),
    h('td', {}, actorWords(a.actor)), h('td', {}, a.reason || ''))));
  msg('au-msg', t('admin.search.count', { n: document.querySelector('#au-table tbody').children.length }), 'ok');
  if (got.data.next) auditQuery.set('cursor', got.data.next);
  show('au-more', Boolean(got.data.next));
}

/** An event's type in plain words ("Card.Suspended" or "Suspended" -> 暂停使用). */
export function eventWords(type) {
  const key = `admin.event.${String(type).split('.').pop()}`;
  const words = t(key);
  return words === key ? String(type) : words;
}

export function actorWords(actor) {
  if (!actor || typeof actor !== 'object') return actor || '';
  const who = actor.role && actor.role !== 'system' ? t(`role.${actor.role}`) : t('admin.actor.system');
  return [who, actor.region ? regionName(actor.region) : '', actor.id].filter(Boolean).join(' · ');
}

// ---- wiring
export function initConsole(context) {
  ctx = context;
  document.getElementById('search-form').addEventListener('submit', search);
  document.getElementById('search-more').addEventListener('click', () => search(null, true));
  initMerchants({ token: context.token, msg, place, regionParam });
  document.getElementById('tk-form').addEventListener('submit', mintToken);
  document.getElementById('tab-tokens').addEventListener('click', listTokens);
  document.getElementById('im-form').addEventListener('submit', startImport);
  document.getElementById('au-form').addEventListener('submit', audit);
  document.getElementById('au-more').addEventListener('click', () => audit(null, true));
  document.getElementById('tab-audit').addEventListener('click', () => { if (!auditQuery) audit(); });
}
