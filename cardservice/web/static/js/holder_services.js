// Holder services on the holder page: the inbox (notices) and appeals, filed on their own
// or from a check in "who checked my card". Follows the card holder.js shows.
import { api, errorText, fmtDateTime, h, onLangChange, setText, show, t } from '/static/js/app.js';

let card = null; // {cardId, token}
let about = null; // the verification an appeal is about: {id, text}

document.addEventListener('holder:card', (e) => {
  card = e.detail;
});

async function loadNotices() {
  const list = document.getElementById('notice-list');
  const got = await api(`/v1/cards/${card.cardId}/notices`, { token: card.token });
  if (!got.ok) {
    setText('inbox-note', got.offline ? t('common.offline') : errorText(got));
    return;
  }
  setText('inbox-note', '');
  const items = got.data.items || [];
  if (!items.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('holder.inbox.empty')));
    return;
  }
  const en = document.documentElement.lang === 'en';
  list.replaceChildren(...items.map((n) => h('li', { class: `notice notice-${n.kind}`, 'data-kind': n.kind },
    h('span', { class: 'notice-when' }, fmtDateTime(n.at)),
    h('span', { class: 'notice-text' }, en ? n.message_en : n.message))));
}

function appealItem(a) {
  const answered = a.answer;
  const parts = [
    h('span', { class: 'appeal-when' }, `${fmtDateTime(a.filed_at)} · ${t(`holder.appeal.status.${a.status}`)}`),
    h('p', { class: 'appeal-text' }, a.text),
  ];
  if (a.verification) {
    const v = a.verification;
    parts.push(h('p', { class: 'small' }, `${t('holder.appeal.about')}：${v.merchant_name || ''} ${fmtDateTime(v.checked_at)}`));
  }
  if (answered) {
    parts.push(h('p', { class: 'appeal-reply' },
      h('strong', {}, `${t(`appeal.outcome.${answered.outcome}`)}。`), ` ${t('holder.appeal.reply')}：${answered.reply}`));
  }
  return h('li', { class: `appeal appeal-${a.status}`, 'data-appeal': a.appeal_id }, ...parts);
}

async function loadAppeals() {
  const list = document.getElementById('appeal-list');
  const got = await api(`/v1/cards/${card.cardId}/appeals`, { token: card.token });
  if (!got.ok) return;
  const items = got.data.items || [];
  list.replaceChildren(...(items.length ? items.map(appealItem) : [h('li', { class: 'empty' }, t('holder.appeal.empty'))]));
}

function refresh() {
  if (!card) return;
  loadNotices();
  loadAppeals();
}

function setAbout(next) {
  about = next;
  show('appeal-about', Boolean(about));
  setText('appeal-about-text', about ? about.text : '');
}

// One Idempotency-Key per filed appeal: a retry after a lost answer (or a second tap)
// sends the same key with the same text, and the server answers the first appeal again.
let filing = null; // {key, cardId, text, verificationId} until the server has answered
let busy = false;

function filingKey(text, verificationId) {
  const same = filing && filing.cardId === card.cardId && filing.text === text
    && filing.verificationId === verificationId;
  if (!same) filing = { key: crypto.randomUUID(), cardId: card.cardId, text, verificationId };
  return filing.key;
}

async function fileAppeal(e) {
  e.preventDefault();
  if (busy) return; // a double tap files one appeal
  const box = document.getElementById('appeal-text');
  const text = box.value.trim();
  if (!text) return;
  const body = { text };
  if (about) body.verification_id = about.id;
  const key = filingKey(text, body.verification_id || null);
  const button = document.querySelector('#appeal-form button[type=submit]');
  busy = true;
  if (button) button.disabled = true;
  let got;
  try {
    got = await api(`/v1/cards/${card.cardId}/appeals`, { method: 'POST', token: card.token, body, headers: { 'Idempotency-Key': key } });
  } finally {
    busy = false;
    if (button) button.disabled = false;
  }
  const msg = document.getElementById('appeal-msg');
  if (!got.ok) {
    // Unanswered (offline, 5xx, 429): keep the key, so trying again files the same appeal.
    if (!got.offline && got.status < 500 && got.status !== 429) filing = null;
    msg.textContent = errorText(got);
    msg.className = 'message message-error';
    return;
  }
  filing = null;
  box.value = '';
  setAbout(null);
  msg.textContent = t('holder.appeal.sent');
  msg.className = 'message message-ok';
  loadAppeals();
}

/** "Appeal this" on every check in the history list (holder.js renders the list). */
function addAppealButtons() {
  for (const li of document.querySelectorAll('#history-list li[data-verification]')) {
    const id = li.getAttribute('data-verification');
    if (!id || li.querySelector('.appeal-this')) continue;
    const summary = [...li.querySelectorAll('span')].map((s) => s.textContent).join(' · ');
    li.append(h('button', {
      type: 'button',
      class: 'btn btn-quiet appeal-this',
      onclick: () => {
        setAbout({ id, text: summary });
        document.getElementById('tab-inbox').click();
        document.getElementById('appeal-text').focus();
      },
    }, t('holder.history.appeal')));
  }
}

function wire() {
  const panel = document.getElementById('panel-inbox');
  // holder.js shows and hides the tab panels (click or arrow keys): load when shown.
  if (panel) new MutationObserver(() => { if (!panel.hidden) refresh(); }).observe(panel, { attributes: true, attributeFilter: ['hidden'] });
  document.getElementById('appeal-form')?.addEventListener('submit', fileAppeal);
  document.getElementById('appeal-about-clear')?.addEventListener('click', () => setAbout(null));
  const history = document.getElementById('history-list');
  if (history) new MutationObserver(addAppealButtons).observe(history, { childList: true });
  onLangChange(() => {
    if (!document.getElementById('panel-inbox')?.hidden) refresh();
  });
}

wire();
