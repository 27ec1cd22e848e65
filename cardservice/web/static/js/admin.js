// Bureau administrators: cards (look up, issue, suspend/reinstate/revoke with history),
// the regional catalog editor (draft, diff against the version in force, schedule) and
// merchant registration. Same API and permissions as any client: the typed-in token decides.
import { api, errorText, fmtDateTime, h, initI18n, label, onLangChange, setText, show, t, todayShanghai } from '/static/js/app.js';
import { POLICY } from '/static/js/policy.js';
import { actorWords, eventWords, fillRegionNames, initConsole, regionCode, renderServices } from '/static/js/admin-console.js';
import { drawQr } from '/static/js/qr.js';
import { loadRegionNames, regionName } from '/static/js/regions.js';

const TOKEN_KEY = 'cardservice.admin.token';
const CATEGORIES = POLICY.holder_categories;
let token = null;

function msg(id, text, kind = '') {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = `message ${kind ? `message-${kind}` : ''}`;
}

// ---- tabs
function wireTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const select = (tab) => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      other.tabIndex = on ? 0 : -1;
      show(other.getAttribute('aria-controls'), on);
    }
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab));
    // The WAI-ARIA tabs pattern: arrows move round the list, Home and End to its ends; the
    // tab focused is selected (automatic activation), and only it is in the Tab order.
    tab.addEventListener('keydown', (e) => {
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });
}

// ---- cards
let shownCard = null;

async function lookup(cardId) {
  const got = await api(`/v1/admin/cards/${encodeURIComponent(cardId.trim())}`, { token });
  if (!got.ok) {
    show('card-detail', false);
    msg('card-msg', errorText(got), 'error');
    return;
  }
  msg('card-msg', '');
  renderCard(got.data);
  document.getElementById('card-title').scrollIntoView({ block: 'start' });
}

/** The region an input names (a name from the list, or a code); null if none matches. */
function regionOf(id, msgId) {
  const code = regionCode(document.getElementById(id));
  if (!code) {
    msg(msgId, t('admin.region.unknown'), 'error');
    document.getElementById(id).focus();
  }
  return code;
}

function activationText(a) {
  if (!a || a.state === 'none') return t('admin.cards.activation.state.none');
  if (a.state === 'pending') return t('admin.cards.activation.state.pending', { when: fmtDateTime(a.expires_at) });
  if (a.state === 'used') return t('admin.cards.activation.state.used', { when: fmtDateTime(a.activated_at) });
  return t('admin.cards.activation.state.expired');
}

/** The one-time code as the holder gets it: typed code, link and the link's QR. */
function showActivation(prefix, box, data) {
  if (!data.activation_code) {
    show(box, false);
    return;
  }
  const link = `${location.origin}${data.activation_url}`;
  setText(`${prefix}-code-out`, data.activation_code);
  setText(`${prefix}-expires`, t('admin.cards.activation.expires', { when: fmtDateTime(data.activation_expires_at) }));
  const a = document.getElementById(`${prefix}-link`);
  a.href = link;
  a.textContent = link;
  drawQr(document.getElementById(`${prefix}-qr`), link, { maxPx: 240, ecl: 'M' });
  show(box, true);
}

function historyReason(ev) {
  if (ev.type === 'ActivationCodeIssued' && ev.reason === 'issuance') return t('admin.cards.activation.reason.issuance');
  if (ev.type === 'Activated') return ev.data?.device_hint || '';
  return ev.reason || '';
}

function renderCard(card) {
  if (shownCard?.card_id !== card.card_id) show('new-activation-result', false);
  shownCard = card;
  const rows = [
    [t('admin.cards.card_id'), card.card_id], [t('admin.cards.number'), card.card_number], [t('holder.card.name'), card.masked_name],
    [t('holder.card.category'), label('category', card.category)], [t('holder.card.region'), `${regionName(card.region)} (${card.region})`],
    [t('holder.card.status'), label('status', card.status)], [t('holder.card.expires'), card.expires],
    [t('admin.cards.version'), card.version], [t('admin.cards.device'), card.device_bound ? t('common.yes') : t('common.no')],
    [t('admin.cards.activation.state'), activationText(card.activation)],
  ];
  setText('card-status-words', t(`admin.card.words.${card.status}`, { expires: card.expires }));
  renderServices(card);
  document.getElementById('card-fields').replaceChildren(...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v ?? ''))));
  document.querySelector('#history-table tbody').replaceChildren(...(card.history || []).map((ev) => h('tr', {},
    h('td', {}, ev.version), h('td', {}, eventWords(ev.type)), h('td', {}, fmtDateTime(ev.at)), h('td', {}, historyReason(ev)),
    h('td', {}, actorWords(ev.actor)))));
  show('card-detail', true);
}

async function changeStatus(action) {
  const reason = document.getElementById('status-reason').value.trim();
  if (!reason) {
    msg('card-msg', t('admin.cards.reason.required'), 'error');
    document.getElementById('status-reason').focus();
    return;
  }
  const got = await api(`/v1/admin/cards/${shownCard.card_id}/${action}`, { method: 'POST', token, body: { reason }, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    msg('card-msg', errorText(got), 'error');
    return;
  }
  document.getElementById('status-reason').value = '';
  await lookup(shownCard.card_id);
  msg('card-msg', t('admin.cards.done', { status: label('status', got.data.status) }), 'ok');
}

async function newActivation() {
  const reason = document.getElementById('status-reason').value.trim();
  const got = await api(`/v1/admin/cards/${shownCard.card_id}/activation`, { method: 'POST', token, body: reason ? { reason } : {}, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    msg('card-msg', errorText(got), 'error');
    return;
  }
  document.getElementById('status-reason').value = '';
  await lookup(shownCard.card_id);
  showActivation('new-activation', 'new-activation-result', got.data);
  msg('card-msg', t('admin.cards.activation.done'), 'ok');
}

async function issue(e) {
  e.preventDefault();
  const holder = {
    name: document.getElementById('issue-name').value.trim(),
    id_number: document.getElementById('issue-id-number').value.trim().toUpperCase(),
    category: document.getElementById('issue-category').value,
  };
  const phone = document.getElementById('issue-phone').value.trim();
  if (phone) holder.phone = phone;
  const region = regionOf('issue-region', 'issue-msg');
  if (!region) return;
  const body = { holder, region };
  const years = Number(document.getElementById('issue-years').value);
  if (years) body.valid_years = years;
  const got = await api('/v1/admin/cards', { method: 'POST', token, body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    show('issue-result', false);
    msg('issue-msg', errorText(got), 'error');
    return;
  }
  msg('issue-msg', t('admin.cards.issued', { number: got.data.card_number }), 'ok');
  showActivation('activation', 'issue-result', got.data);
  document.getElementById('lookup-id').value = got.data.card_id;
  lookup(got.data.card_id);
}

// ---- catalog editor
const FIELDS = ['id', 'title', 'partner', 'category', 'discount', 'holder_categories', 'local_only', 'merchant_categories', 'min_a_level', 'limit', 'companions'];
const PERIODS = ['day', 'month', 'year', 'ever'];
let catalogRegion = null;
let current = [];
let draft = [];

function clean(b) {
  const out = {
    id: String(b.id || '').trim(), title: String(b.title || '').trim(), partner: String(b.partner || '').trim(),
    category: String(b.category || '').trim(), discount: String(b.discount || '').trim(),
    holder_categories: [...(b.holder_categories || [])], local_only: Boolean(b.local_only),
    merchant_categories: [...(b.merchant_categories || [])],
  };
  if (b.min_a_level !== null && b.min_a_level !== undefined && b.min_a_level !== '') out.min_a_level = Number(b.min_a_level);
  if (b.limit && b.limit.count) out.limit = { count: Number(b.limit.count), per: PERIODS.includes(b.limit.per) ? b.limit.per : 'day' };
  if (b.companions) out.companions = Number(b.companions);
  return out;
}

function draftKey() {
  return `cardservice.admin.draft.${catalogRegion}`;
}

async function loadCatalog(e) {
  e?.preventDefault();
  const region = regionOf('catalog-region', 'catalog-msg');
  if (!region) return;
  const got = await api(`/v1/catalog/${region}?at=${todayShanghai()}`);
  if (!got.ok) {
    show('catalog-editor', false);
    msg('catalog-msg', errorText(got), 'error');
    return;
  }
  catalogRegion = region;
  current = (got.data.benefits || []).filter((b) => b.region === region).map(clean);
  const versions = [...new Set((got.data.benefits || []).filter((b) => b.region === region).map((b) => b.version))];
  setText('catalog-current', `${t('admin.catalog.current')}: ${regionName(region)} (${region}) · ${t('admin.catalog.versions')} ${versions.join(', ') || t('common.none')} · ${t('admin.catalog.count', { n: current.length })}`);
  const saved = localStorage.getItem(draftKey());
  draft = saved ? JSON.parse(saved) : current.map((b) => ({ ...b }));
  msg('catalog-msg', '');
  const effective = document.getElementById('effective-from');
  effective.min = todayShanghai();
  if (!effective.value) effective.value = todayShanghai(1);
  renderDraft();
  renderDiff();
  show('catalog-editor', true);
}

function fieldInput(b, i, field) {
  const id = `b${i}-${field}`;
  const lab = (k) => h('label', { for: id }, t(`admin.catalog.field.${k}`));
  const update = (value) => { draft[i][field] = value; saveDraft(); };
  if (field === 'holder_categories') {
    return h('fieldset', { class: 'chips' }, h('legend', {}, t('admin.catalog.field.holder_categories')),
      ...CATEGORIES.map((c) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', checked: (b.holder_categories || []).includes(c), onchange: (e) => {
          const set = new Set(draft[i].holder_categories || []);
          if (e.target.checked) set.add(c); else set.delete(c);
          update(CATEGORIES.filter((x) => set.has(x)));
        } }), ' ', label('category', c))));
  }
  if (field === 'local_only') {
    return h('label', { class: 'check' }, h('input', { id, type: 'checkbox', checked: Boolean(b.local_only), onchange: (e) => update(e.target.checked) }), ' ', t('admin.catalog.field.local_only'));
  }
  if (field === 'merchant_categories') {
    return h('div', { class: 'field' }, lab(field), h('input', { id, value: (b.merchant_categories || []).join(', '), spellcheck: 'false',
      oninput: (e) => update(e.target.value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean)) }));
  }
  if (field === 'min_a_level') {
    return h('div', { class: 'field' }, lab(field), h('input', { id, type: 'number', min: '1', max: '5', value: b.min_a_level ?? '',
      oninput: (e) => update(e.target.value === '' ? null : Number(e.target.value)) }));
  }
  if (field === 'limit') {
    const limit = b.limit || {};
    // The draft's limit as it is now (not as it was when the field was drawn: `update` does
    // not redraw), so a count and a period chosen in either order both stay. A period chosen
    // before any count is kept, and the count joins it.
    const set = (patch) => {
      const now = draft[i].limit || {};
      update({ count: now.count ?? null, per: now.per || 'day', ...patch });
    };
    return h('div', { class: 'field' }, lab(field),
      h('input', { id, type: 'number', min: '1', max: '1000', value: limit.count ?? '',
        oninput: (e) => (e.target.value === '' ? set({ count: null }) : set({ count: Number(e.target.value) })) }),
      h('select', { id: `${id}-per`, 'aria-label': t('admin.catalog.field.limit_per'), onchange: (e) => set({ per: e.target.value }) },
        ...PERIODS.map((p) => h('option', { value: p, selected: (limit.per || 'day') === p }, t(`admin.catalog.per.${p}`)))));
  }
  if (field === 'companions') {
    return h('div', { class: 'field' }, lab(field), h('input', { id, type: 'number', min: '0', max: '10', value: b.companions ?? 0,
      oninput: (e) => update(e.target.value === '' ? 0 : Number(e.target.value)) }));
  }
  return h('div', { class: 'field' }, lab(field), h('input', { id, value: b[field] ?? '', required: true, spellcheck: 'false', oninput: (e) => update(e.target.value) }));
}

function renderDraft() {
  document.getElementById('draft-list').replaceChildren(...draft.map((b, i) => h('fieldset', { class: 'draft-item' },
    h('legend', {}, `${i + 1}. ${b.title || b.id || ''}`),
    ...FIELDS.map((f) => fieldInput(b, i, f)),
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => { draft.splice(i, 1); saveDraft(); renderDraft(); } }, t('admin.catalog.remove')))));
}

function saveDraft() {
  localStorage.setItem(draftKey(), JSON.stringify(draft));
  renderDiff();
}

/** Benefits added, removed and changed (field by field), matched by id. */
export function diffCatalog(before, after) {
  const old = new Map(before.map((b) => [b.id, clean(b)]));
  const now = new Map(after.map((b) => [clean(b).id, clean(b)]));
  const out = [];
  for (const [id, b] of now) {
    if (!old.has(id)) { out.push({ kind: 'added', id, title: b.title }); continue; }
    const a = old.get(id);
    const fields = FIELDS.filter((f) => JSON.stringify(a[f] ?? null) !== JSON.stringify(b[f] ?? null))
      .map((f) => ({ field: f, before: a[f], after: b[f] }));
    if (fields.length) out.push({ kind: 'changed', id, title: b.title, fields });
  }
  for (const [id, a] of old) if (!now.has(id)) out.push({ kind: 'removed', id, title: a.title });
  return out;
}

function renderDiff() {
  const changes = diffCatalog(current, draft);
  const box = document.getElementById('draft-diff');
  if (!changes.length) {
    box.replaceChildren(h('p', {}, t('admin.catalog.nodiff')));
    return;
  }
  const show = (v) => (Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '—' : String(v));
  box.replaceChildren(h('ul', {}, ...changes.map((c) => h('li', { class: `diff-${c.kind}` },
    h('strong', {}, `${c.kind === 'added' ? '+ ' : c.kind === 'removed' ? '− ' : '~ '}${t(`admin.catalog.${c.kind}`)}`), ` ${c.id} ${c.title || ''}`,
    c.fields ? h('ul', {}, ...c.fields.map((f) => h('li', {}, `${t(`admin.catalog.field.${f.field}`)}: `, h('del', {}, show(f.before)), ' → ', h('ins', {}, show(f.after))))) : null))));
}

async function publish(e) {
  e.preventDefault();
  const effective = document.getElementById('effective-from').value;
  const body = { effective_from: effective, benefits: draft.map(clean) };
  const got = await api(`/v1/admin/regions/${catalogRegion}/catalog`, { method: 'PUT', token, body });
  if (!got.ok) {
    msg('catalog-msg', errorText(got), 'error');
    return;
  }
  localStorage.removeItem(draftKey());
  msg('catalog-msg', t('admin.catalog.published', { version: got.data.version, date: effective }), 'ok');
}

// ---- merchants
async function registerMerchant(e) {
  e.preventDefault();
  const body = {
    name: document.getElementById('m-name').value.trim(),
    region: regionOf('m-region', 'merchant-msg'),
    kind: document.getElementById('m-kind').value,
    categories: document.getElementById('m-categories').value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean),
    require_device_binding: document.getElementById('m-require').checked,
  };
  if (!body.region) return;
  const level = document.getElementById('m-a-level').value;
  if (level) body.a_level = Number(level);
  const got = await api('/v1/admin/merchants', { method: 'POST', token, body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
  if (!got.ok) {
    show('merchant-result', false);
    msg('merchant-msg', errorText(got), 'error');
    return;
  }
  msg('merchant-msg', `${got.data.name} · ${got.data.merchant_id}`, 'ok');
  setText('merchant-key-out', got.data.api_key || '');
  show('merchant-result', true);
}

// ---- start
async function enter() {
  show('signin', false);
  show('console', true);
}

async function main() {
  await initI18n();
  const names = await loadRegionNames();
  document.getElementById('region-options').replaceChildren(...Object.entries(names).slice(0, 4000).map(([code, name]) => h('option', { value: code }, name)));
  fillRegionNames(names);
  initConsole({ token: () => token, openCard: lookup });
  const categorySelect = document.getElementById('issue-category');
  const fillCategories = () => {
    const value = categorySelect.value;
    categorySelect.replaceChildren(...CATEGORIES.map((c) => h('option', { value: c }, label('category', c))));
    if (value) categorySelect.value = value;
  };
  fillCategories();
  onLangChange(() => { fillCategories(); if (shownCard) renderCard(shownCard); if (catalogRegion) { renderDraft(); renderDiff(); } });
  wireTabs();
  document.getElementById('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const typed = document.getElementById('admin-token').value.trim();
    // The search (any role, the caller's own subtree) tells a bad token (401) from a good one.
    const probe = await api('/v1/admin/cards?limit=1', { token: typed });
    if (probe.status === 401) {
      msg('signin-msg', errorText(probe), 'error');
      return;
    }
    token = typed;
    sessionStorage.setItem(TOKEN_KEY, token);
    document.getElementById('admin-token').value = '';
    msg('signin-msg', '');
    enter();
  });
  document.getElementById('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    show('console', false);
    show('signin', true);
  });
  document.getElementById('lookup-form').addEventListener('submit', (e) => { e.preventDefault(); lookup(document.getElementById('lookup-id').value); });
  for (const button of document.querySelectorAll('#status-form [data-action]')) button.addEventListener('click', () => changeStatus(button.dataset.action));
  document.getElementById('new-activation').addEventListener('click', newActivation);
  document.getElementById('issue-form').addEventListener('submit', issue);
  document.getElementById('catalog-load').addEventListener('submit', loadCatalog);
  document.getElementById('draft-add').addEventListener('click', () => {
    draft.push({ id: '', title: '', partner: '', category: '', discount: '', holder_categories: [...CATEGORIES], local_only: false, merchant_categories: [] });
    saveDraft();
    renderDraft();
    document.getElementById(`b${draft.length - 1}-id`).focus();
  });
  document.getElementById('publish-form').addEventListener('submit', publish);
  document.getElementById('merchant-form').addEventListener('submit', registerMerchant);
  token = sessionStorage.getItem(TOKEN_KEY);
  if (token) enter();
  else show('signin', true);
  document.body.dataset.ready = 'true';
}

main();
