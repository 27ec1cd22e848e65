// The bureau's statistics dashboard on the admin page: verifications and redemptions per
// day, verdicts by status, redemptions by benefit, the out-of-region share and the merchant
// regions that granted most, for a region subtree and a date range (GET /v1/admin/stats;
// the merchant regions from the settlement CSV, which the page also offers as a download).
// Charts are Chart.js (its UMD build, vendored from npm by the setup script, loaded from
// this origin only when the dashboard opens). Uses the token admin.js signed in with.
import { api, errorText, h, label, onLangChange, setText, t, todayShanghai } from '/static/js/app.js';
import { regionName } from '/static/js/regions.js';

const TOKEN_KEY = 'cardservice.admin.token';
const CHART_JS = '/static/vendor/chart.js/chart.umd.min.js';
const DEFAULT_DAYS = 28;
const TOP = 10;
const COLOURS = ['#9b1c1c', '#0b6b2a', '#0a58ca', '#7a4a00', '#5b2a86', '#00707a', '#a30016', '#3d3d3d'];
const charts = new Map();
let chartLib = null;
let last = null; // {stats, settlement, titles}

const token = () => sessionStorage.getItem(TOKEN_KEY);

function loadChartLib() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLib) {
    chartLib = new Promise((resolve, reject) => {
      const script = h('script', { src: CHART_JS });
      script.addEventListener('load', () => resolve(window.Chart));
      script.addEventListener('error', () => reject(new Error('chart library missing')));
      document.head.append(script);
    });
  }
  return chartLib;
}

function query() {
  const params = new URLSearchParams();
  const region = document.getElementById('stats-region').value.trim();
  if (region) params.set('region', region);
  params.set('from', document.getElementById('stats-from').value);
  params.set('to', document.getElementById('stats-to').value);
  return params.toString();
}

/** Settlement CSV (UTF-8 with a byte-order mark, LF) → objects keyed by its header. */
export function parseSettlement(text) {
  const lines = text.replace(/^\uFEFF/, '').split('\n').filter(Boolean);
  const header = (lines.shift() || '').split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [header[i], v])));
}

/** Merchant regions by redemptions, most first. */
export function topMerchantRegions(rows, n = TOP) {
  const sums = new Map();
  for (const r of rows) sums.set(r.merchant_region, (sums.get(r.merchant_region) || 0) + Number(r.redemptions));
  return [...sums].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
}

/** Titles of the benefits named `{region}/{id}`, from each publishing region's catalog. */
async function benefitTitles(keys, day) {
  const titles = {};
  const regions = [...new Set(keys.map((k) => k.split('/')[0]))];
  await Promise.all(regions.map(async (region) => {
    const got = await api(`/v1/catalog/${region}?at=${day}`);
    for (const b of got.ok ? got.data.benefits || [] : []) titles[`${b.region}/${b.id}`] = b.title;
  }));
  return titles;
}

async function load() {
  setText('stats-msg', t('common.loading'));
  const q = query();
  const [stats, csv] = await Promise.all([
    api(`/v1/admin/stats?${q}`, { token: token() }),
    fetchSettlement(q),
  ]);
  if (!stats.ok) {
    setText('stats-msg', errorText(stats));
    return;
  }
  const byBenefit = Object.keys(stats.data.redemptions.by_benefit || {});
  last = {
    stats: stats.data,
    settlement: csv ? parseSettlement(csv) : [],
    titles: await benefitTitles(byBenefit, stats.data.to),
  };
  if (!document.getElementById('stats-region').value) document.getElementById('stats-region').value = stats.data.region;
  setText('stats-msg', '');
  await render();
}

async function fetchSettlement(q) {
  try {
    const resp = await fetch(`/v1/admin/settlement?${q}`, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
    return resp.ok ? await resp.text() : null;
  } catch {
    return null;
  }
}

async function download() {
  const q = query();
  const resp = await fetch(`/v1/admin/settlement?${q}`, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' }).catch(() => null);
  if (!resp || !resp.ok) {
    setText('stats-msg', resp ? `HTTP ${resp.status}` : t('common.network'));
    return;
  }
  const url = URL.createObjectURL(await resp.blob());
  const params = new URLSearchParams(q);
  const a = h('a', { href: url, download: `settlement-${params.get('region') || 'region'}-${params.get('from')}-${params.get('to')}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function chart(Chart, id, config, summary) {
  charts.get(id)?.destroy();
  const canvas = document.getElementById(id);
  canvas.setAttribute('aria-label', summary);
  canvas.dataset.summary = summary;
  charts.set(id, new Chart(canvas, {
    ...config,
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } }, ...config.options },
  }));
}

async function render() {
  if (!last) return;
  const Chart = await loadChartLib().catch(() => null);
  const s = last.stats;
  const v = s.verifications;
  const r = s.redemptions;
  const share = r.total ? Math.round((100 * r.out_of_region) / r.total) : 0;
  document.getElementById('stats-cards').replaceChildren(...[
    ['verifications', v.total], ['valid', v.by_status?.valid || 0], ['redemptions', r.total],
    ['companions', r.companions], ['out_of_region', `${share}%`],
  ].map(([k, n]) => h('div', { class: 'stats-card', dataset: { stat: k } }, h('strong', {}, String(n)), t(`admin.stats.${k}`))));
  if (!Chart) {
    setText('stats-msg', t('admin.stats.nochart'));
    return;
  }
  const days = s.by_day.map((d) => d.date.slice(5));
  chart(Chart, 'chart-days', {
    type: 'line',
    data: {
      labels: days,
      datasets: [
        { label: t('admin.stats.verifications'), data: s.by_day.map((d) => d.verifications), borderColor: COLOURS[2], backgroundColor: COLOURS[2] },
        { label: t('admin.stats.valid'), data: s.by_day.map((d) => d.valid), borderColor: COLOURS[1], backgroundColor: COLOURS[1] },
        { label: t('admin.stats.redemptions'), data: s.by_day.map((d) => d.redemptions), borderColor: COLOURS[0], backgroundColor: COLOURS[0] },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, t('admin.stats.summary', { from: s.from, to: s.to, v: v.total, r: r.total }));
  const statuses = Object.entries(v.by_status || {}).sort((a, b) => b[1] - a[1]);
  chart(Chart, 'chart-status', {
    type: 'doughnut',
    data: { labels: statuses.map(([k]) => label('status', k)), datasets: [{ data: statuses.map(([, n]) => n), backgroundColor: statuses.map(([k], i) => (k === 'valid' ? COLOURS[1] : COLOURS[(i + 2) % COLOURS.length])) }] },
  }, statuses.map(([k, n]) => `${label('status', k)} ${n}`).join('，'));
  const benefits = Object.entries(r.by_benefit || {}).sort((a, b) => b[1] - a[1]);
  const benefitName = (key) => `${last.titles[key] || key.split('/')[1]}（${regionName(key.split('/')[0])}）`;
  chart(Chart, 'chart-benefits', {
    type: 'bar',
    data: { labels: benefits.map(([k]) => benefitName(k)), datasets: [{ label: t('admin.stats.redemptions'), data: benefits.map(([, n]) => n), backgroundColor: COLOURS[0] }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, benefits.map(([k, n]) => `${benefitName(k)} ${n}`).join('，'));
  chart(Chart, 'chart-region', {
    type: 'doughnut',
    data: { labels: [t('admin.stats.local'), t('admin.stats.outside')], datasets: [{ data: [r.total - r.out_of_region, r.out_of_region], backgroundColor: [COLOURS[1], COLOURS[3]] }] },
  }, `${t('admin.stats.outside')} ${share}%`);
  const top = topMerchantRegions(last.settlement);
  chart(Chart, 'chart-top', {
    type: 'bar',
    data: { labels: top.map(([code]) => regionName(code)), datasets: [{ label: t('admin.stats.redemptions'), data: top.map(([, n]) => n), backgroundColor: COLOURS[2] }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, top.map(([code, n]) => `${regionName(code)} ${n}`).join('，'));
  document.getElementById('stats-dashboard').dataset.loaded = 'true';
}

function init() {
  const form = document.getElementById('stats-form');
  if (!form) return;
  document.getElementById('stats-from').value = todayShanghai(-(DEFAULT_DAYS - 1));
  document.getElementById('stats-to').value = todayShanghai();
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  document.getElementById('stats-csv').addEventListener('click', download);
  document.getElementById('tab-stats')?.addEventListener('click', () => { if (!last) load(); });
  onLangChange(() => render());
}

init();
