// The card detail's records: what the holder was told (notices) and the card's appeals
// (the bureau queue narrowed with `card=`), each as a list, newest first. Shown only
// where the server has the routes (the paths come from /openapi.json).
import { api, errorText, fmtDateTime, h, t } from '/static/js/app.js';

function section(id, titleKey, items, emptyKey) {
  const list = h('ul', { class: 'records', id: `${id}-list` },
    ...(items.length ? items : [h('li', { class: 'empty' }, t(emptyKey))]));
  return h('section', { class: 'card-records', id, 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, t(titleKey)), list);
}

function notice(n) {
  return h('li', { 'data-kind': n.kind }, h('span', { class: 'small' }, fmtDateTime(n.at)), ' ', n.message);
}

function appeal(a) {
  const parts = [
    h('span', { class: 'small' }, `${fmtDateTime(a.filed_at)} · ${t(`holder.appeal.status.${a.status}`)}`), ' ',
    h('span', { class: 'appeal-text' }, a.text ?? '—'),
  ];
  if (a.answer) parts.push(h('p', { class: 'appeal-reply' }, h('strong', {}, `${t(`appeal.outcome.${a.answer.outcome}`)}：`), a.answer.reply));
  return h('li', { 'data-appeal': a.appeal_id }, ...parts);
}

/** Fill #card-records for `card`: notices, then appeals (with "more" while `next`). */
export async function renderRecords(card, have, token) {
  const box = document.getElementById('card-records');
  if (!box) return;
  const id = encodeURIComponent(card.card_id);
  const parts = [];
  if (have.has('/v1/admin/cards/{card_id}/notices')) {
    const got = await api(`/v1/admin/cards/${id}/notices`, { token });
    parts.push(got.ok
      ? section('card-notices', 'admin.card.notices', got.data.items.map(notice), 'admin.card.notices.none')
      : h('p', { class: 'message message-error' }, errorText(got)));
  }
  if (have.has('/v1/admin/appeals')) {
    const shown = section('card-appeals', 'admin.card.appeals', [], 'admin.card.appeals.none');
    parts.push(shown);
    const list = shown.querySelector('ul');
    const more = h('button', { type: 'button', class: 'btn', hidden: true }, t('admin.list.more'));
    shown.append(more);
    let cursor = null;
    const page = async () => {
      const q = new URLSearchParams({ card: card.card_id, limit: '20' });
      if (cursor) q.set('cursor', cursor);
      const got = await api(`/v1/admin/appeals?${q}`, { token });
      if (!got.ok) {
        list.replaceChildren(h('li', { class: 'message message-error' }, errorText(got)));
        return;
      }
      if (!cursor) list.replaceChildren();
      list.append(...got.data.items.map(appeal));
      if (!list.children.length) list.append(h('li', { class: 'empty' }, t('admin.card.appeals.none')));
      cursor = got.data.next;
      more.hidden = !cursor;
    };
    more.addEventListener('click', page);
    await page();
  }
  box.replaceChildren(...parts);
  box.hidden = parts.length === 0;
}
