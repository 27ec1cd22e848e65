// The holder page's benefits tab: province → city → county selects (starting at the card's
// own region), category chips, the benefit list (search, "only mine") and the places in the
// region; each kept for offline use. Follows the card holder.js shows (initBenefits).
import { api, errorText, fmtDateTime, h, label, setText, store, t, todayShanghai } from '/static/js/app.js';
import { ancestors, cities, counties, inSubtree, provinces, regionName } from '/static/js/regions.js';

let view = () => ({}); // the shown card's view, read when used (holder.js refreshes it)
let catalog = null;
let activeCategory = '';

function benefitRegion() {
  for (const id of ['r-county', 'r-city', 'r-province']) {
    const value = document.getElementById(id).value;
    if (value) return value;
  }
  return view().region;
}

function options(select, list, whole) {
  const value = select.value;
  select.replaceChildren(...(whole ? [h('option', { value: '' }, t('region.whole'))] : []),
    ...list.map((code) => h('option', { value: code }, regionName(code))));
  select.disabled = list.length === 0;
  if (list.includes(value)) select.value = value;
}

/** Province → city → county selects, starting at the card's own region. */
export function fillRegionSelect(pick = view().region) {
  const chain = ancestors(pick);
  const province = document.getElementById('r-province');
  const city = document.getElementById('r-city');
  const county = document.getElementById('r-county');
  const provs = provinces();
  options(province, ['000000', ...(provs.length ? provs : chain.filter((c) => c !== '000000').slice(-1))], false);
  province.value = chain.find((c) => c.endsWith('0000')) || '000000';
  options(city, province.value === '000000' ? [] : cities(province.value), true);
  city.value = chain.find((c) => [...city.options].some((o) => o.value === c && c)) || '';
  options(county, city.value ? counties(city.value) : [], true);
  county.value = chain.find((c) => [...county.options].some((o) => o.value === c && c)) || '';
}

function onRegionChange(level) {
  const province = document.getElementById('r-province');
  const city = document.getElementById('r-city');
  const county = document.getElementById('r-county');
  if (level === 'province') {
    options(city, province.value === '000000' ? [] : cities(province.value), true);
    city.value = '';
  }
  if (level !== 'county') {
    options(county, city.value ? counties(city.value) : [], true);
    county.value = '';
  }
  loadBenefits();
}

export async function loadBenefits() {
  const region = benefitRegion();
  const today = todayShanghai();
  const key = `holder.catalog.${region}`;
  const got = await api(`/v1/catalog/${region}?at=${today}`);
  if (got.ok) {
    catalog = { ...got.data, savedAt: Date.now() };
    store.put(key, catalog).catch(() => {});
    setText('benefit-note', '');
  } else {
    const saved = await store.get(key).catch(() => null);
    if (saved) {
      catalog = saved;
      setText('benefit-note', t('holder.benefits.cached', { when: fmtDateTime(new Date(saved.savedAt).toISOString()) }));
    } else {
      catalog = { benefits: [] };
      setText('benefit-note', got.offline ? t('common.offline') : errorText(got));
    }
  }
  renderCategoryChips();
  renderBenefits();
  loadPlaces(region);
}

function renderCategoryChips() {
  const box = document.getElementById('benefit-categories');
  const legend = box.querySelector('legend');
  const cats = [...new Set((catalog?.benefits || []).map((b) => b.category))].sort();
  if (activeCategory && !cats.includes(activeCategory)) activeCategory = '';
  const chip = (value, text) => h('button', {
    type: 'button', class: 'chip', 'aria-pressed': String(activeCategory === value),
    onclick: () => { activeCategory = value; renderCategoryChips(); renderBenefits(); },
  }, text);
  box.replaceChildren(legend, chip('', t('common.all')), ...cats.map((c) => chip(c, label('bcat', c))));
}

function mine(benefit) {
  const v = view();
  const reasons = [];
  if (!(benefit.holder_categories || []).includes(v.category)) reasons.push(t('holder.benefits.not_mine'));
  if (benefit.local_only && !inSubtree(v.region, benefit.region)) reasons.push(t('holder.benefits.local_no'));
  return reasons;
}

function renderBenefits() {
  const list = document.getElementById('benefit-list');
  const q = document.getElementById('benefit-search').value.trim().toLowerCase();
  const onlyMine = document.getElementById('benefit-mine').checked;
  const items = (catalog?.benefits || []).filter((b) => {
    if (activeCategory && b.category !== activeCategory) return false;
    if (onlyMine && mine(b).length) return false;
    if (!q) return true;
    return [b.title, b.partner, b.discount, label('bcat', b.category), ...(b.merchant_categories || []).map((m) => label('mcat', m))]
      .some((s) => String(s || '').toLowerCase().includes(q));
  });
  if (!items.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('holder.benefits.empty')));
    return;
  }
  list.replaceChildren(...items.map((b) => {
    const reasons = mine(b);
    const where = (b.merchant_categories || []).map((m) => label('mcat', m)).join('、') || t('common.all');
    return h('li', { class: `benefit ${reasons.length ? 'benefit-no' : ''}` },
      h('p', { class: 'benefit-discount' }, b.discount),
      h('h3', { class: 'benefit-title' }, b.title),
      h('p', {}, `${t('holder.benefits.partner')}：${b.partner}`),
      h('p', {}, `${t('holder.benefits.where')}：${where}${b.min_a_level ? `（${t('holder.benefits.min_a_level', { n: b.min_a_level })}）` : ''}`),
      b.local_only ? h('p', { class: 'tag' }, inSubtree(view().region, b.region) ? t('holder.benefits.local_ok') : t('holder.benefits.local_no')) : null,
      reasons.length ? h('p', { class: 'tag tag-bad' }, reasons.join('；')) : null,
      h('p', { class: 'small muted' }, t('holder.benefits.from', { region: regionName(b.region) })));
  }));
}

async function loadPlaces(region) {
  const list = document.getElementById('place-list');
  const key = `holder.places.${region}`;
  let got = await api(`/web/places/${region}`);
  let places = got.ok ? got.data.places : null;
  if (places) store.put(key, places).catch(() => {});
  else places = await store.get(key).catch(() => null);
  if (!places || !places.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('holder.benefits.noplaces')));
    return;
  }
  list.replaceChildren(...places.map((p) => h('li', { class: 'place' },
    h('span', { class: 'place-name' }, p.name),
    h('span', { class: 'small' }, [p.kind === 'scenic_site' ? `${p.a_level ? `${p.a_level}A ` : ''}${t('admin.merchants.kind.scenic_site')}` : (p.categories || []).map((m) => label('mcat', m)).join('、'), ` · ${regionName(p.region)}`].join('')))));
}

/** Wire the benefits tab; `cardView()` gives the shown card's view (region, category). */
export function initBenefits(cardView) {
  view = cardView;
  document.getElementById('benefit-form').addEventListener('submit', (e) => e.preventDefault());
  for (const level of ['province', 'city', 'county']) document.getElementById(`r-${level}`).addEventListener('change', () => onRegionChange(level));
  document.getElementById('r-mine').addEventListener('click', () => { fillRegionSelect(); loadBenefits(); });
  document.getElementById('benefit-search').addEventListener('input', renderBenefits);
  document.getElementById('benefit-mine').addEventListener('change', renderBenefits);
}
