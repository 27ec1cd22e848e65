// The holder's phone: activation, device key binding, the live PTP1 code, history; the
// benefits tab (holder_benefits.js); several cards on one phone, each with its own session
// and key (wallet.js), a switcher, and a question before a link adds a card (holder-cards.js).
import { api, applyI18n, errorText, fmtDateTime, h, initI18n, label, onLangChange, onlineBanner, registerServiceWorker, setText, show, store, t } from '/static/js/app.js';
import { askToAdd, askToRemove, renderSwitcher, wireQuestion } from '/static/js/holder-cards.js';
import { fillRegionSelect, initBenefits, loadBenefits } from '/static/js/holder_benefits.js';
import { findCard, forgetCard, loadWallet, saveCard, selectCard } from '/static/js/wallet.js';
import { makePresentation, newDeviceKey, parseCredential, publicJwk } from '/static/js/ptc.js';
import { POLICY } from '/static/js/policy.js';
import { drawQr } from '/static/js/qr.js';
import { loadRegionNames, regionFullName } from '/static/js/regions.js';

const REFRESH_SECONDS = POLICY.presentation_refresh_seconds;
let card = null; // the card shown now: {cardId, token, keyPair, qr, view, savedAt, pendingBind}
let timer = null;
let nextRenewal = 0;
let currentCode = '';

const CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const CODE_LENGTH = 10;

/** A one-time code as typed or linked (`#activate=CODE`), normalized like the server does
 * (case, spaces, dashes and full-width characters do not matter), or null. */
export function parseCode(text) {
  let s = String(text || '').trim();
  const linked = s.match(/[#&?]activate=([^&]*)/);
  if (linked) {
    try { s = decodeURIComponent(linked[1]); } catch { return null; }
  }
  s = s.replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s\-_\u2010-\u2014\u3000]/g, '').toUpperCase();
  return s.length === CODE_LENGTH && [...s].every((c) => CODE_ALPHABET.includes(c)) ? s : null;
}

/** The one-time code (link or typed) as `{code}`, or null. A holder token only ever comes
 * from redeeming a code: no link carries one. */
export function parseActivation(text) {
  const code = parseCode(text);
  return code ? { code } : null;
}

const REFUSALS = {
  unknown_code: 'holder.activate.unknown',
  code_used: 'holder.activate.used',
  code_expired: 'holder.activate.expired',
  code_superseded: 'holder.activate.superseded',
  card_revoked: 'holder.activate.revoked',
  invalid: 'holder.activate.format',
};

function refusalText(got) {
  if (got.offline) return t('common.network');
  if (got.status === 429) return t('holder.activate.wait', { s: got.headers?.get('Retry-After') || 60 });
  const key = REFUSALS[got.data?.error];
  return key ? t(key) : errorText(got);
}

// A retry after a lost answer sends the same Idempotency-Key, so the server answers again
// instead of refusing the (now used) code.
let pendingRedeem = null;

/** Redeem a one-time code: the card id and holder token, once; null (and a message) if refused. */
async function redeem(code) {
  show('activate', true);
  message('activate-msg', t('holder.activate.working'));
  if (pendingRedeem?.code !== code) pendingRedeem = { code, key: crypto.randomUUID() };
  const got = await api('/v1/activate', { method: 'POST', body: { code }, headers: { 'Idempotency-Key': pendingRedeem.key } });
  if (!got.ok) {
    if (!got.offline) pendingRedeem = null;
    message('activate-msg', refusalText(got), 'error');
    return null;
  }
  pendingRedeem = null;
  return { cardId: got.data.card_id, token: got.data.holder_token };
}

/** Activation from a one-time code: stores the card beside the others, binds this phone. */
async function activateFrom(parsed) {
  const creds = await redeem(parsed.code);
  return creds ? activate(creds) : false;
}

/** A link (not a typed code) asks first: a crafted link never adds or swaps a card silently. */
async function activateFromLink(parsed) {
  if (!(await askToAdd(await loadWallet()))) {
    if (card) await showCard();
    else show('activate', true);
    message('activate-msg', t('holder.add.declined'));
    if (card) showProblem(t('holder.add.declined'));
    return;
  }
  if (await activateFrom(parsed)) await showCard();
  else await keepStoredCard();
}

/** A link opened again on a phone that already holds a card: keep showing the card, and
 * say why the code was refused (usually: already used, by this very phone). */
async function keepStoredCard() {
  if (!card) return;
  const why = document.getElementById('activate-msg').textContent;
  if (document.getElementById('card-app').hidden) await showCard();
  else show('activate', false);
  showProblem(why);
}

function message(id, text, kind = '') {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = `message ${kind ? `message-${kind}` : ''}`;
}

async function activate({ cardId, token }) {
  show('activate', true);
  message('activate-msg', t('holder.activate.working'));
  const got = await api(`/v1/cards/${cardId}`, { token });
  if (!got.ok) {
    message('activate-msg', got.status === 401 || got.status === 404 ? t('holder.activate.bad') : errorText(got), 'error');
    return false;
  }
  // The same card again (a new code for it, on this phone) keeps its key when the server
  // still holds it; every other card on this phone is left as it is.
  const existing = await findCard(cardId);
  let keyPair = existing ? existing.keyPair : null;
  let qr = got.data.qr;
  let pendingBind = false;
  if (!keyPair || !(await serverHasOurKey(got.data.qr, keyPair))) {
    keyPair = await newDeviceKey();
    const bound = await api(`/v1/cards/${cardId}/device-key`, { method: 'POST', token, body: { jwk: await publicJwk(keyPair) } });
    if (bound.status === 429) {
      pendingBind = true; // kept with its session; bound on a later visit
    } else if (!bound.ok) {
      message('activate-msg', errorText(bound), 'error');
      return false;
    } else {
      qr = bound.data.qr;
    }
  }
  const view = { ...got.data, device_bound: !pendingBind };
  card = { cardId, token, keyPair, qr, view, savedAt: Date.now(), pendingBind };
  await saveCard(card);
  message('activate-msg', t('holder.activate.done'), 'ok');
  return true;
}

async function serverHasOurKey(qrText, keyPair) {
  try {
    const parsed = parseCredential(qrText);
    const ours = await publicJwk(keyPair);
    return parsed.card.claims.deviceKey?.x === ours.x && parsed.card.claims.deviceKey?.y === ours.y;
  } catch {
    return false;
  }
}

/** Bring the saved card up to date when online: status changes, a reissue under a new key. */
async function refreshFromServer() {
  const shown = card;
  const got = await api(`/v1/cards/${shown.cardId}`, { token: shown.token });
  if (card !== shown) return; // switched to another card meanwhile
  if (got.offline || !got.ok) {
    if (got.status === 401) showProblem(t('holder.session.ended'));
    return;
  }
  const before = card.qr;
  if (got.data.qr !== card.qr || card.pendingBind) {
    if (await serverHasOurKey(got.data.qr, card.keyPair)) {
      card.qr = got.data.qr;
      card.pendingBind = false;
    } else if (!got.data.device_bound || card.pendingBind) {
      const bound = await api(`/v1/cards/${card.cardId}/device-key`, { method: 'POST', token: card.token, body: { jwk: await publicJwk(card.keyPair) } });
      if (bound.ok) {
        card.qr = bound.data.qr;
        card.pendingBind = false;
      }
    } else {
      // Bound to another phone since: this phone's code would verify as superseded.
      showProblem(t('status.superseded'));
    }
  }
  card.view = { ...card.view, ...got.data };
  card.savedAt = Date.now();
  await saveCard(card);
  renderCard();
  if (card.qr !== before) renew();
}

function showProblem(text) {
  const el = document.getElementById('card-problem');
  el.textContent = text;
  el.hidden = false;
}

function hideProblem() {
  const el = document.getElementById('card-problem');
  el.textContent = '';
  el.hidden = true;
}

function maskNumber(number) {
  if (!number || number.length !== 18) return number || '';
  return `${number.slice(0, 6)} ${number.slice(6, 10)} ***${number.slice(13)}`;
}

function renderCard() {
  const v = card.view;
  setText('card-category', label('category', v.category));
  setText('card-name', v.masked_name);
  const status = document.getElementById('card-status');
  status.textContent = label('status', v.status);
  status.className = `status-pill ${v.status === 'active' ? 'status-ok' : 'status-bad'}`;
  setText('d-name', v.masked_name);
  setText('d-category', label('category', v.category));
  setText('d-number', maskNumber(v.card_number));
  setText('d-region', regionFullName(v.region));
  setText('d-expires', v.expires || '');
  if (v.status && v.status !== 'active') showProblem(`${t('holder.card.status')}: ${label('status', v.status)}`);
}

async function renew() {
  if (!card?.keyPair || !card.qr) return;
  if (card.pendingBind) {
    showProblem(t('holder.bind.limit'));
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  currentCode = await makePresentation(card.qr, card.keyPair.privateKey, now);
  const canvas = document.getElementById('qr');
  const box = document.getElementById('qr-box');
  const width = Math.min(box.clientWidth || 320, 480);
  drawQr(canvas, currentCode, { maxPx: width });
  canvas.dataset.code = currentCode;
  canvas.dataset.card = card.cardId;
  canvas.dataset.t = String(now);
  nextRenewal = now + REFRESH_SECONDS;
  tick();
}

function tick() {
  const left = Math.max(0, nextRenewal - Math.floor(Date.now() / 1000));
  setText('countdown-text', t('holder.qr.countdown', { s: left }));
  const fill = document.getElementById('countdown-fill');
  fill.style.width = `${(left / REFRESH_SECONDS) * 100}%`;
  if (left <= 0) renew();
}

function startTimer() {
  if (timer) return;
  timer = setInterval(tick, 1000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') tick(); // renews if the code has run out
  });
}

// ---- tabs
function selectTab(name) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    show(tab.getAttribute('aria-controls'), on);
  }
  if (name === 'benefits') loadBenefits();
  if (name === 'history') loadHistory();
}

function wireTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => selectTab(tab.id.slice(4)));
    tab.addEventListener('keydown', (e) => {
      const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      next.focus();
      selectTab(next.id.slice(4));
    });
  });
}

// ---- history
async function loadHistory() {
  const list = document.getElementById('history-list');
  const key = `holder.history.${card.cardId}`; // each card's own
  const got = await api(`/v1/cards/${card.cardId}/verifications`, { token: card.token });
  let items = got.ok ? (got.data.items || []) : null;
  if (items) {
    store.put(key, items).catch(() => {});
    setText('history-note', '');
  } else {
    items = (await store.get(key).catch(() => null)) || [];
    setText('history-note', got.offline ? t('common.offline') : errorText(got));
  }
  if (!items.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('holder.history.empty')));
    return;
  }
  list.replaceChildren(...items.map((it) => {
    const status = it.status || (it.valid ? 'valid' : 'unknown_card');
    const who = it.merchant_name || it.merchant?.name || it.merchant || it.merchant_id || '';
    return h('li', { class: `history-item ${it.valid ? 'ok' : 'bad'}`, 'data-verification': it.verification_id || '' },
      h('span', { class: 'history-when' }, fmtDateTime(it.checked_at || it.at)),
      h('span', { class: 'history-who' }, `${t('holder.history.by')}：${who}`),
      h('span', { class: 'history-result' }, `${t('holder.history.result')}：${label('status', status)}`));
  }));
}

// ---- start
async function showCard() {
  // holder_services.js (inbox, appeals) follows the card shown.
  document.dispatchEvent(new CustomEvent('holder:card', { detail: { cardId: card.cardId, token: card.token } }));
  show('activate', false);
  show('card-app', true);
  hideProblem();
  renderSwitcher(await loadWallet(), card, switchTo);
  renderCard();
  fillRegionSelect();
  await renew();
  startTimer();
  if (navigator.onLine) refreshFromServer();
}

/** The switcher: show another card kept on this phone (its own key makes its code). */
async function switchTo(cardId) {
  card = await selectCard(cardId);
  selectTab('card');
  await showCard();
}

/** "Remove from this phone": end this phone's session, then forget the token and the key. */
async function removeCurrent() {
  const leaving = card;
  if (!leaving || !(await askToRemove(leaving))) return;
  // Offline or already ended elsewhere: the card still leaves this phone with its key.
  await api(`/v1/cards/${leaving.cardId}/session`, { method: 'DELETE', token: leaving.token });
  card = await forgetCard(leaving.cardId);
  if (card) {
    await showCard();
    return;
  }
  show('card-app', false);
  show('activate', true);
  show('back-to-cards', false);
  message('activate-msg', t('holder.remove.done'), 'ok');
}

async function main() {
  await initI18n();
  registerServiceWorker();
  onlineBanner();
  await loadRegionNames();
  wireTabs();
  wireQuestion();
  onLangChange(async () => { if (card) { renderSwitcher(await loadWallet(), card, switchTo); renderCard(); tick(); } });
  document.getElementById('add-card').addEventListener('click', () => {
    show('card-app', false);
    show('activate', true);
    show('back-to-cards', true);
    message('activate-msg', '');
    document.getElementById('activation-code').focus();
  });
  document.getElementById('back-to-cards').addEventListener('click', () => { if (card) showCard(); });
  document.getElementById('activate-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const parsed = parseActivation(document.getElementById('activation-code').value);
    if (!parsed) {
      message('activate-msg', t('holder.activate.format'), 'error');
      return;
    }
    if (await activateFrom(parsed)) await showCard();
  });
  initBenefits(() => card.view);
  document.getElementById('remove-card').addEventListener('click', removeCurrent);

  // An activation link opened while this page is already open only changes the fragment.
  window.addEventListener('hashchange', async () => {
    const link = parseActivation(location.hash);
    if (!link) return;
    history.replaceState(null, '', '/holder');
    await activateFromLink(link);
  });
  const fromLink = parseActivation(location.hash);
  if (location.hash) history.replaceState(null, '', '/holder'); // nothing secret stays there
  const wallet = await loadWallet();
  card = wallet.cards.find((c) => c.cardId === wallet.current) || wallet.cards[0] || null;
  show('holder-loading', false);
  if (fromLink) {
    applyI18n(document.getElementById('main'));
    await activateFromLink(fromLink);
    return;
  }
  if (card) await showCard();
  else show('activate', true);
  applyI18n(document.getElementById('main'));
}

main();
