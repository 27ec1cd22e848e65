// Region names (GB/T 2260) for display, fetched once and kept for offline use.
import { store } from '/static/js/app.js';
import { ancestors, inSubtree } from '/static/js/regiontree.js';

export { ancestors, inSubtree };

let names = null;
// Table rows that only group counties ("市辖区", "县") read oddly inside a full name.
const PLACEHOLDERS = new Set(['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划']);

export async function loadRegionNames() {
  if (names) return names;
  try {
    const resp = await fetch('/web/regions.json');
    if (resp.ok) {
      names = await resp.json();
      store.put('regions', names).catch(() => {});
      return names;
    }
  } catch { /* offline: fall back to the saved copy */ }
  names = (await store.get('regions').catch(() => null)) || {};
  return names;
}

export function regionName(code) {
  if (code === '000000') return names?.[code] || '全国';
  return names?.[code] || code;
}

/** "重庆市 渝北区" style full name, province first, without the national level. */
export function regionFullName(code) {
  const parts = ancestors(code).reverse().filter((c) => c !== '000000').map((c) => names?.[c])
    .filter((n, i, all) => n && (i === all.length - 1 || !PLACEHOLDERS.has(n)));
  const unique = parts.filter((p, i) => p !== parts[i - 1]);
  return unique.length ? unique.join(' ') : regionName(code);
}

const codes = () => Object.keys(names || {}).sort();

export function provinces() {
  return codes().filter((c) => c !== '000000' && c.endsWith('0000'));
}

/** Prefecture-level rows of a province (and counties placed directly under it). */
export function cities(province) {
  const pre = province.slice(0, 2);
  return codes().filter((c) => c.startsWith(pre) && c !== province
    && (c.endsWith('00') || !(names[`${c.slice(0, 4)}00`])));
}

export function counties(city) {
  if (!city.endsWith('00')) return [];
  const pre = city.slice(0, 4);
  return codes().filter((c) => c.startsWith(pre) && !c.endsWith('00'));
}
