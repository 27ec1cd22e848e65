// The bureau's appeals queue on the admin page: appeals of cards issued in the caller's
// subtree or about checks at merchants in it, each with the verdict as decided; answer
// once (upheld or rejected, with a reply). Narrowed by status and by a region picked by
// name; "more" pages on while the server gives a `next`. Uses the token admin.js signed
// in with.
import { regionCode } from '/static/js/admin-console.js';
import { api, errorText, fmtDateTime, h, label, onLangChange, t } from '/static/js/app.js';

const TOKEN_KEY = 'cardservice.admin.token';

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function message(text, kind = '') {
  const el = document.getElementById('appeals-msg');
  el.textContent = text;
  el.className = `message ${kind ? `message-${kind}` : ''}`;
}

function verdictPart(v) {
  if (!v) return h('p', { class: 'small' }, t('holder.appeal.about.none'));
  const lines = [
    h('p', {}, h('strong', {}, `${t('admin.appeals.verdict')}：`), `${v.merchant_name || v.merchant?.name || ''} · ${label('status', v.status)} · ${fmtDateTime(v.checked_at)}`),
  ];
  if ((v.benefits || []).length) lines.push(h('p', { class: 'small' }, `✓ ${v.benefits.map((b) => `${b.title || b.id}（${b.discount || ''}）`).join('、')}`));
  for (const n of v.not_applicable || []) lines.push(h('p', { class: 'small', 'data-reason': n.reason }, `✗ ${n.title || n.id} — ${n.message || label('reason', n.reason)}`));
  return h('div', { class: 'appeal-verdict' }, ...lines);
}

function answerForm(appeal) {
  const id = `reply-${appeal.appeal_id}`;
  const form = h('form', { class: 'stack appeal-answer' },
    h('label', { for: id }, t('admin.appeals.reply')),
    h('textarea', { id, maxlength: '1000', required: true }),
    h('button', { type: 'submit', class: 'btn btn-primary', value: 'upheld' }, t('admin.appeals.upheld')),
    h('button', { type: 'submit', class: 'btn', value: 'rejected' }, t('admin.appeals.rejected')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const outcome = e.submitter?.value || 'rejected';
    const reply = document.getElementById(id).value.trim();
    if (!reply) return;
    const got = await api(`/v1/admin/appeals/${appeal.appeal_id}/answer`, { method: 'POST', token: token(), body: { outcome, reply }, headers: { 'Idempotency-Key': crypto.randomUUID() } });
    if (!got.ok) {
      message(errorText(got), 'error');
      return;
    }
    await load();
    message(t('admin.appeals.answered'), 'ok');
  });
  return form;
}

function item(a) {
  const parts = [
    h('span', { class: 'appeal-when' }, `${fmtDateTime(a.filed_at)} · ${t(`holder.appeal.status.${a.status}`)} · ${a.card_region}${a.merchant_region ? ` / ${a.merchant_region}` : ''}`),
    h('p', { class: 'appeal-text' }, a.text ?? '—'),
    verdictPart(a.verification),
  ];
  if (a.answer) parts.push(h('p', { class: 'appeal-reply' }, h('strong', {}, `${t(`appeal.outcome.${a.answer.outcome}`)}：`), a.answer.reply));
  else parts.push(answerForm(a));
  return h('li', { class: `appeal appeal-${a.status}`, 'data-appeal': a.appeal_id }, ...parts);
}

let query = null;

async function load(more = false) {
  const list = document.getElementById('appeals-queue');
  if (!more) {
    const params = new URLSearchParams({ status: document.getElementById('appeals-status').value });
    const input = document.getElementById('appeals-region');
    const region = regionCode(input);
    if (region === null) {
      message(t('admin.region.unknown'), 'error');
      input.focus();
      return;
    }
    if (region) params.set('region', region);
    query = params;
  }
  const got = await api(`/v1/admin/appeals?${query}`, { token: token() });
  if (!got.ok) {
    message(errorText(got), 'error');
    return;
  }
  if (!more) message('');
  const items = (got.data.items || []).map(item);
  if (more) list.append(...items);
  else list.replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, t('admin.appeals.empty'))]));
  if (got.data.next) query.set('cursor', got.data.next);
  document.getElementById('appeals-more').hidden = !got.data.next;
}

function wire() {
  const panel = document.getElementById('panel-appeals');
  if (!panel) return;
  new MutationObserver(() => { if (!panel.hidden) load(); }).observe(panel, { attributes: true, attributeFilter: ['hidden'] });
  document.getElementById('appeals-filter').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  document.getElementById('appeals-more').addEventListener('click', () => load(true));
  onLangChange(() => { if (!panel.hidden) load(); });
}

wire();
