// "My usage" on the holder page: where and when the card was used (GET
// /v1/cards/{id}/redemptions), and what is left this period of each limited benefit that
// applies to the card's category in its own region's catalog. The periods are calendar
// periods in the service's time zone (served in policy.json, never re-typed here).
import { api, errorText, fmtDateTime, h, onLangChange, setText, t } from '/static/js/app.js';
import { POLICY } from '/static/js/policy.js';
import { regionName } from '/static/js/regions.js';

let card = null; // {cardId, token}
let shown = null; // {view, items, benefits}

document.addEventListener('holder:card', (e) => {
  card = e.detail;
  shown = null;
});

/** The period a moment falls in, as the server counts it: day, month, year or ever. */
export function periodOf(per, moment, timeZone = POLICY?.time_zone) {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone }).format(new Date(moment));
  return { day, month: day.slice(0, 7), year: day.slice(0, 4), ever: 'ever' }[per];
}

/** What is left of each limited benefit: count − this period's redemptions of it. */
export function leftOf(benefits, items, now = Date.now()) {
  return benefits.filter((b) => b.limit).map((b) => {
    const current = periodOf(b.limit.per, now);
    const used = items.filter((r) => r.benefit_id === b.id && r.benefit_region === b.region
      && periodOf(b.limit.per, r.redeemed_at) === current).length;
    return { benefit: b, used, remaining: Math.max(0, b.limit.count - used) };
  });
}

/** Every page of the card's redemptions (newest first), so a yearly or lifetime limit
 * counts them all; at most `pages` pages of 500. */
async function allRedemptions(pages = 20) {
  const items = [];
  let next = null;
  for (let n = 0; n < pages; n += 1) {
    const cursor = next ? `&cursor=${encodeURIComponent(next)}` : '';
    const got = await api(`/v1/cards/${card.cardId}/redemptions?limit=500${cursor}`, { token: card.token });
    if (!got.ok) return got;
    items.push(...(got.data.items || []));
    next = got.data.next;
    if (!next) break;
  }
  return { ok: true, data: { items } };
}

async function load() {
  if (!card) return;
  const [view, usage] = await Promise.all([
    api(`/v1/cards/${card.cardId}`, { token: card.token }),
    allRedemptions(),
  ]);
  if (!view.ok || !usage.ok) {
    const bad = view.ok ? usage : view;
    setText('usage-note', bad.offline ? t('common.offline') : errorText(bad));
    return;
  }
  const region = view.data.region;
  const catalog = await api(`/v1/catalog/${region}?at=${new Intl.DateTimeFormat('en-CA', { timeZone: POLICY?.time_zone }).format(new Date())}`);
  const benefits = (catalog.ok ? catalog.data.benefits || [] : [])
    .filter((b) => (b.holder_categories || []).includes(view.data.category));
  shown = { items: usage.data.items || [], benefits };
  setText('usage-note', '');
  render();
}

function render() {
  if (!shown) return;
  const left = leftOf(shown.benefits, shown.items);
  document.getElementById('usage-left').replaceChildren(...(left.length ? left.map(({ benefit: b, remaining }) => h('li', {
    class: `history-item ${remaining ? 'ok' : 'bad'}`, dataset: { benefit: `${b.region}/${b.id}`, remaining: String(remaining) },
  },
  h('span', { class: 'history-who' }, `${b.title}（${b.discount}）`),
  h('span', { class: 'history-result' }, t('holder.usage.left', { n: remaining, count: b.limit.count, per: t(`holder.usage.per.${b.limit.per}`) })))) : [h('li', { class: 'empty' }, t('holder.usage.nolimits'))]));
  const titles = Object.fromEntries(shown.benefits.map((b) => [`${b.region}/${b.id}`, b.title]));
  document.getElementById('usage-list').replaceChildren(...(shown.items.length ? shown.items.map((r) => h('li', {
    class: 'history-item ok', dataset: { benefit: r.benefit_id, status: r.status },
  },
  h('span', { class: 'history-when' }, fmtDateTime(r.redeemed_at)),
  h('span', { class: 'history-who' }, `${r.merchant?.name || ''}（${regionName(r.merchant?.region || '')}）`),
  h('span', { class: 'history-result' }, [titles[`${r.benefit_region}/${r.benefit_id}`] || r.benefit_id,
    r.companions ? t('holder.usage.companions', { n: r.companions }) : ''].filter(Boolean).join(' · ')))) : [h('li', { class: 'empty' }, t('holder.usage.empty'))]));
}

document.getElementById('tab-history')?.addEventListener('click', () => load());
onLangChange(() => render());
