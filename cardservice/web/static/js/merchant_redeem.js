// Redeeming on the merchant page: each applicable benefit of a valid verdict gets a redeem
// button showing what is left and, where the benefit allows companions, a stepper bounded
// by them. Online verdicts redeem at once (POST /v1/redemptions, with an Idempotency-Key
// kept per button so a retry after a lost answer is applied once). Offline verdicts, and
// online ones when the network is gone, are queued on this device (IndexedDB) and sent as
// one batch once back online (POST /v1/redemptions/offline); each outcome is shown. The
// server identifies an item by (merchant, card, benefit, redeemed_at), so re-sending a
// batch whose answer was lost records nothing twice.
import { api, errorText, fmtDateTime, h, label, setText, store, t } from '/static/js/app.js';

const QUEUE_KEY = 'merchant.redeem.queue';
const OUTCOMES_KEY = 'merchant.redeem.outcomes';
const OUTCOMES_KEPT = 20;
const BATCH = 500; // the contract's most items per batch
let sending = false;

const loadQueue = async () => (await store.get(QUEUE_KEY).catch(() => null)) || [];
const loadOutcomes = async () => (await store.get(OUTCOMES_KEY).catch(() => null)) || [];

function remainingText(b) {
  // An offline verdict knows the limit but not what was used: the upload's answer tells.
  if (b.remaining === undefined && b.limit) return t('merchant.redeem.limit_offline', { n: b.limit.count });
  if (b.remaining === null || b.remaining === undefined) return t('merchant.redeem.unlimited');
  return t('merchant.redeem.left', { n: b.remaining });
}

/** Controls for one benefit of a verdict: {verdict, key (merchant key), offline (fn)}. */
export function redeemControls(b, ctx) {
  const max = Math.max(0, Number(b.companions) || 0);
  let companions = 0;
  // One key per body: a retry of the same request replays, a changed stepper is a new one.
  const keys = new Map();
  const left = h('span', { class: 'redeem-left', dataset: { remaining: b.remaining ?? '' } }, remainingText(b));
  const count = h('output', { class: 'stepper-value', 'aria-live': 'polite' }, '0');
  const msg = h('p', { class: 'redeem-msg', role: 'status', 'aria-live': 'polite' });
  const step = (d) => {
    companions = Math.min(max, Math.max(0, companions + d));
    count.textContent = String(companions);
    minus.disabled = companions <= 0;
    plus.disabled = companions >= max;
  };
  const minus = h('button', { type: 'button', class: 'btn stepper-btn', 'aria-label': t('merchant.redeem.fewer'), onclick: () => step(-1) }, '−');
  const plus = h('button', { type: 'button', class: 'btn stepper-btn', 'aria-label': t('merchant.redeem.more'), onclick: () => step(1) }, '+');
  const button = h('button', { type: 'button', class: 'btn btn-primary redeem-btn', dataset: { benefit: b.id } }, t('merchant.redeem.button'));
  if (b.remaining === 0) button.disabled = true;
  button.addEventListener('click', async () => {
    button.disabled = true;
    if (!keys.has(companions)) keys.set(companions, crypto.randomUUID());
    const shown = await redeem(b, companions, keys.get(companions), ctx);
    msg.textContent = shown.text;
    msg.dataset.outcome = shown.outcome;
    if (shown.remaining !== undefined) {
      left.textContent = remainingText({ remaining: shown.remaining });
      left.dataset.remaining = shown.remaining ?? '';
    }
    button.disabled = shown.outcome !== 'error';
  });
  step(0);
  const parts = [left];
  if (max > 0) {
    parts.push(h('span', { class: 'stepper', role: 'group', 'aria-label': t('merchant.redeem.companions', { n: max }) },
      h('span', {}, t('merchant.redeem.companions', { n: max })), minus, count, plus));
  }
  parts.push(button);
  return h('div', { class: 'redeem', dataset: { benefit: b.id } }, h('div', { class: 'row' }, ...parts), msg);
}

async function redeem(b, companions, idempotency, ctx) {
  const v = ctx.verdict;
  if (!v.offline && v.verification_id && !ctx.offline()) {
    const got = await api('/v1/redemptions', {
      method: 'POST', token: ctx.key(), headers: { 'Idempotency-Key': idempotency },
      body: { verification_id: v.verification_id, benefit_id: b.id, companions },
    });
    if (got.ok) {
      return { outcome: 'recorded', remaining: got.data.remaining, text: t('merchant.redeem.done', { left: remainingText(got.data) }) };
    }
    if (!got.offline) {
      const code = got.data?.error;
      const known = `merchant.redeem.refused.${code}`;
      return { outcome: code === 'limit_reached' || code === 'already_redeemed' ? code : 'error', text: t(known) !== known ? t(known) : errorText(got) };
    }
  }
  await enqueue({ qr: v.qr, benefit_id: b.id, companions, redeemed_at: new Date().toISOString(), title: b.title || b.id });
  if (!ctx.offline()) sendQueue(ctx.key());
  return { outcome: 'queued', text: t('merchant.redeem.queued') };
}

async function enqueue(item) {
  const queue = await loadQueue();
  queue.push(item);
  await store.put(QUEUE_KEY, queue);
  await renderQueue();
}

/** Send what is queued, once; keep it queued when the network fails or the server errs. */
export async function sendQueue(key) {
  if (sending || !key) return;
  sending = true;
  try {
    let queue = await loadQueue();
    while (queue.length) {
      const batch = queue.slice(0, BATCH);
      const got = await api('/v1/redemptions/offline', {
        method: 'POST', token: key,
        body: { items: batch.map(({ qr, benefit_id, redeemed_at, companions }) => ({ qr, benefit_id, redeemed_at, companions })) },
      });
      if (!got.ok) {
        setText('queue-msg', got.offline ? t('common.network') : errorText(got));
        break;
      }
      const results = got.data.results || [];
      const outcomes = await loadOutcomes();
      for (const r of results) {
        const item = batch[r.index];
        if (item) outcomes.unshift({ title: item.title, redeemed_at: item.redeemed_at, companions: item.companions, status: r.status, reason: r.reason || null });
      }
      await store.put(OUTCOMES_KEY, outcomes.slice(0, OUTCOMES_KEPT));
      queue = (await loadQueue()).slice(batch.length);
      await store.put(QUEUE_KEY, queue);
      setText('queue-msg', t('merchant.queue.sent', { n: results.length }));
    }
  } finally {
    sending = false;
    await renderQueue();
  }
}

function reasonText(code) {
  const key = `merchant.queue.reason.${code}`;
  return t(key) !== key ? t(key) : label('status', code);
}

export async function renderQueue() {
  const queue = await loadQueue();
  const outcomes = await loadOutcomes();
  const info = document.getElementById('queue-info');
  if (!info) return;
  info.textContent = queue.length ? t('merchant.queue.pending', { n: queue.length }) : t('merchant.queue.empty');
  info.dataset.pending = String(queue.length);
  document.getElementById('queue-send').disabled = queue.length === 0;
  document.getElementById('queue-outcomes').replaceChildren(...outcomes.map((o) => h('li', {
    class: `history-item ${o.status === 'refused' ? 'bad' : 'ok'}`, dataset: { status: o.status },
  },
  h('span', { class: 'history-when' }, fmtDateTime(o.redeemed_at)),
  h('span', {}, o.companions ? `${o.title} (+${o.companions})` : o.title),
  h('span', { class: 'history-result' }, `${t(`merchant.queue.status.${o.status}`)}${o.reason ? ` — ${reasonText(o.reason)}` : ''}`))));
}
