// The bureau console's merchants: the list (region, kind, active; "more" pages on), the
// edit form (PATCH), deactivate (asks for a reason) and rotate-key (asks to confirm), and
// the list's row brought up to date after each. Wired by admin-console.js (initMerchants).
import { api, errorText, h, show, t } from '/static/js/app.js';

let ctx = null; // { token: () => string, msg, place, regionParam } from admin-console.js
let merchantQuery = null;
let editing = null;

async function listMerchants(e, more = false) {
  e?.preventDefault();
  if (!more) {
    const params = new URLSearchParams({ limit: '50' });
    if (!ctx.regionParam('ml-region', params, 'ml-msg')) return;
    for (const [id, key] of [['ml-kind', 'kind'], ['ml-active', 'active']]) {
      const v = document.getElementById(id).value;
      if (v) params.set(key, v);
    }
    merchantQuery = params;
    document.querySelector('#ml-table tbody').replaceChildren();
  }
  const got = await api(`/v1/admin/merchants?${merchantQuery}`, { token: ctx.token() });
  if (!got.ok) {
    ctx.msg('ml-msg', errorText(got), 'error');
    return;
  }
  document.querySelector('#ml-table tbody').append(...got.data.items.map((m) => h('tr', {},
    h('td', {}, m.name), h('td', {}, ctx.place(m.region)), h('td', {}, t(`admin.merchants.kind.${m.kind}`)),
    h('td', {}, m.a_level ? `${m.a_level}A` : '—'), h('td', {}, t(`admin.merchants.active.${m.active}`)),
    h('td', {}, m.active ? h('button', { type: 'button', class: 'btn btn-quiet', 'aria-label': `${t('admin.merchants.edit')} ${m.name}`, onclick: () => edit(m) }, t('admin.merchants.edit')) : ''))));
  const n = document.querySelector('#ml-table tbody').children.length;
  ctx.msg('ml-msg', t('admin.search.count', { n }), 'ok');
  if (got.data.next) merchantQuery.set('cursor', got.data.next);
  show('ml-more', Boolean(got.data.next));
}

function edit(m) {
  editing = m;
  document.getElementById('me-name').value = m.name;
  document.getElementById('me-categories').value = (m.categories || []).join(', ');
  document.getElementById('me-a-level').value = m.a_level ?? '';
  document.getElementById('me-require').checked = Boolean(m.require_device_binding);
  show('me-form', true);
  ctx.msg('me-msg', '');
  document.getElementById('me-name').focus();
}

async function saveMerchant(e) {
  e.preventDefault();
  const level = document.getElementById('me-a-level').value;
  const body = {
    name: document.getElementById('me-name').value.trim(),
    categories: document.getElementById('me-categories').value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean),
    a_level: level ? Number(level) : null,
    require_device_binding: document.getElementById('me-require').checked,
  };
  const got = await api(`/v1/admin/merchants/${editing.merchant_id}`, { method: 'PATCH', token: ctx.token(), body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    ctx.msg('me-msg', errorText(got), 'error');
    return;
  }
  ctx.msg('me-msg', t('admin.merchants.saved', { name: got.data.name }), 'ok');
  show('me-form', false);
  updateRow(got.data);
}

function updateRow(m) {
  for (const row of document.querySelectorAll('#ml-table tbody tr')) {
    const button = row.querySelector('button');
    if (button && editing && button.getAttribute('aria-label')?.endsWith(editing.name)) {
      row.children[0].textContent = m.name;
      row.children[3].textContent = m.a_level ? `${m.a_level}A` : '—';
      row.children[4].textContent = t(`admin.merchants.active.${m.active}`);
      if (!m.active) row.children[5].replaceChildren();
    }
  }
  editing = { ...editing, ...m };
}

async function merchantAction(kind) {
  if (!editing) return;
  let body;
  if (kind === 'deactivate') {
    const reason = window.prompt(t('admin.merchants.deactivate.ask', { name: editing.name }), t('admin.merchants.deactivate.default'));
    if (!reason || !reason.trim()) return;
    body = { reason: reason.trim() };
  } else if (!window.confirm(t('admin.merchants.rotate.confirm', { name: editing.name }))) return;
  const path = `/v1/admin/merchants/${editing.merchant_id}/${kind}`;
  const got = await api(path, { method: 'POST', token: ctx.token(), body });
  if (!got.ok) {
    ctx.msg('me-msg', errorText(got), 'error');
    return;
  }
  if (kind === 'rotate-key') ctx.msg('me-msg', t('admin.merchants.rotated', { key: got.data.api_key }), 'ok');
  else {
    ctx.msg('me-msg', t('admin.merchants.deactivated'), 'ok');
    updateRow(got.data);
    show('me-form', false);
  }
}

/** Wire the merchants tab: `context` gives the token and the console's message and region helpers. */
export function initMerchants(context) {
  ctx = context;
  document.getElementById('ml-form').addEventListener('submit', listMerchants);
  document.getElementById('ml-more').addEventListener('click', () => listMerchants(null, true));
  document.getElementById('me-form').addEventListener('submit', saveMerchant);
  document.getElementById('me-cancel').addEventListener('click', () => show('me-form', false));
  document.getElementById('me-deactivate').addEventListener('click', () => merchantAction('deactivate'));
  document.getElementById('me-rotate').addEventListener('click', () => merchantAction('rotate-key'));
  document.getElementById('tab-merchants').addEventListener('click', () => { if (!merchantQuery) listMerchants(); });
}
