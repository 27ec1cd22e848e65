// Several cards on one phone: the question asked before a link adds a card (or before a
// card is removed), and the big switcher between the cards kept here. DOM only, no server.
import { h, label, setText, show, t } from '/static/js/app.js';

let answer = null; // the pending question's resolver

/** One card as a person recognises it: masked name and category. */
export function cardTitle(card) {
  const v = card.view || {};
  return `${v.masked_name || ''} · ${label('category', v.category)}`;
}

/**
 * Ask a yes/no question in the page (never a silent change): resolves true for `yes`.
 * `cards` (optional) lists the cards already on this phone under the question.
 */
export function ask({ title, text, yes, no, cards = [] }) {
  if (answer) answer(false);
  const panel = document.getElementById('ask');
  document.getElementById('ask-title').textContent = title;
  document.getElementById('ask-text').textContent = text;
  const list = document.getElementById('ask-cards');
  list.replaceChildren(...cards.map((c) => h('li', {}, cardTitle(c))));
  list.hidden = cards.length === 0;
  document.getElementById('ask-yes').textContent = yes;
  document.getElementById('ask-no').textContent = no;
  const visible = ['activate', 'card-app'].filter((id) => !document.getElementById(id).hidden);
  for (const id of visible) show(id, false);
  show(panel, true);
  document.getElementById('ask-no').focus();
  return new Promise((resolve) => {
    answer = (yesOrNo) => {
      answer = null;
      show(panel, false);
      for (const id of visible) show(id, true);
      resolve(yesOrNo);
    };
  });
}

export function wireQuestion() {
  document.getElementById('ask-yes').addEventListener('click', () => answer?.(true));
  document.getElementById('ask-no').addEventListener('click', () => answer?.(false));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && answer) answer(false);
  });
}

/** Before a link adds a card: say what it does and which cards stay. */
export function askToAdd(wallet) {
  const others = wallet.cards;
  return ask({
    title: t('holder.add.title'),
    text: others.length ? t('holder.add.text_more') : t('holder.add.text_first'),
    yes: t('holder.add.yes'),
    no: t('holder.add.no'),
    cards: others,
  });
}

export function askToRemove(card) {
  return ask({
    title: t('holder.remove.title'),
    text: t('holder.remove.text', { card: cardTitle(card) }),
    yes: t('holder.remove.yes'),
    no: t('holder.remove.no'),
  });
}

/** The switcher: one big button per card (the current one pressed) and "add another". */
export function renderSwitcher(wallet, current, onPick) {
  const box = document.getElementById('switcher-cards');
  box.replaceChildren(...wallet.cards.map((c) => h('button', {
    type: 'button',
    class: 'switch-card',
    'aria-pressed': String(c.cardId === current?.cardId),
    dataset: { cardId: c.cardId },
    onclick: () => { if (c.cardId !== current?.cardId) onPick(c.cardId); },
  }, h('span', { class: 'switch-name' }, c.view?.masked_name || ''),
  h('span', { class: 'switch-kind' }, label('category', c.view?.category)))));
  setText('switcher-count', t('holder.switch.count', { n: wallet.cards.length }));
  show('switcher-cards', wallet.cards.length > 1);
  show('card-switcher', wallet.cards.length > 0);
}
