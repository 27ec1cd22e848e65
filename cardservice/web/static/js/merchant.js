// The merchant / gate page: sign in with the merchant key, scan (camera or scanner/paste),
// a full-screen verdict with a sound; offline checks against a downloaded, verified bundle.
import { api, errorText, fmtAge, fmtDateTime, h, initI18n, label, onLangChange, onlineBanner, registerServiceWorker, setText, show, store, t } from '/static/js/app.js';
import { verifyOffline } from '/static/js/offline.js';
import { forgetTrust, loadBundle, loadTrust, saveBundle } from '/static/js/offline-store.js';
import { POLICY } from '/static/js/policy.js';
import { loadRegionNames, regionName } from '/static/js/regions.js';
import { clearPhoto, showPhoto } from '/static/js/verdict_photo.js';
import { redeemControls, renderQueue, sendQueue } from '/static/js/merchant_redeem.js';

const KEY = 'cardservice.merchant.key';
let merchantKey = null;
let bundle = null; // the kept bundle, opened with the trusted keys (offline.js)
let trust = null; // keys pinned at set-up and those vouched for since
let merchantPolicy = null; // the Merchant-Policy header that came with the bundle
let lastScan = { text: '', at: 0 };
let busy = false;

// ---- sound: a rising double beep for yes, a low buzz for no (no audio files to load).
let audio = null;
function unlockAudio() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio?.state === 'suspended') audio.resume();
}
function beep(ok) {
  if (!audio) return;
  const notes = ok ? [[880, 0, 0.12], [1320, 0.16, 0.16]] : [[220, 0, 0.55]];
  for (const [freq, start, dur] of notes) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = ok ? 'sine' : 'square';
    osc.frequency.value = freq;
    gain.gain.value = 0.25;
    osc.connect(gain).connect(audio.destination);
    const t0 = audio.currentTime + start;
    osc.start(t0);
    osc.stop(t0 + dur);
  }
  window.dispatchEvent(new CustomEvent('verdict-sound', { detail: { ok } }));
}

// ---- sign in
async function signIn(key) {
  const got = await api('/v1/verifications?limit=1', { token: key });
  if (got.status === 401) return false;
  merchantKey = key;
  localStorage.setItem(KEY, key);
  return true;
}

function signOut() {
  stopCamera();
  localStorage.removeItem(KEY);
  merchantKey = null;
  show('desk', false);
  show('signin', true);
}

// ---- modes
function offlineMode() {
  return document.getElementById('force-offline').checked || !navigator.onLine;
}

function renderMode() {
  const pill = document.getElementById('mode-pill');
  const offline = offlineMode();
  pill.textContent = t(offline ? 'merchant.mode.offline' : 'merchant.mode.online');
  pill.className = `status-pill ${offline ? 'status-warn' : 'status-ok'}`;
  renderBundleInfo();
}

function bundleAgeSeconds() {
  return bundle ? (Date.now() / 1000 - bundle.issuedAt) : Infinity;
}

function bundleExpired() {
  return Boolean(bundle) && Math.max(Date.now() / 1000, bundle.issuedAt) > bundle.expires;
}

function renderBundleInfo() {
  const info = document.getElementById('bundle-info');
  if (!bundle) {
    setText('bundle-info', t('merchant.bundle.none'));
    info.className = '';
  } else if (bundleExpired()) {
    setText('bundle-info', t('merchant.bundle.expired', { when: fmtDateTime(bundle.expires) }));
    info.className = 'message message-error';
  } else {
    setText('bundle-info', t('merchant.bundle.age', { age: fmtAge(bundleAgeSeconds()), when: fmtDateTime(bundle.issuedAt) }));
    info.className = '';
  }
  renderTrust();
}

/** Each trusted key with its fingerprint, for the merchant to compare with the bureau's. */
function renderTrust() {
  const list = document.getElementById('trust-keys');
  if (!trust) {
    list.replaceChildren(h('li', { class: 'empty' }, t('merchant.trust.none')));
    return;
  }
  list.replaceChildren(...trust.keys.map((k) => h('li', { dataset: { kid: k.kid, source: k.source, status: k.status } },
    h('div', {}, h('strong', {}, t(`merchant.trust.use.${k.use || 'any'}`)), ' · ', t(`merchant.trust.${k.source}`),
      ' · ', t(`merchant.trust.status.${k.status}`)),
    h('div', {}, `${t('merchant.trust.fingerprint')}: `, h('span', { class: 'fingerprint' }, k.fingerprint)))));
}

async function downloadBundle() {
  setText('bundle-msg', t('common.loading'));
  const result = await saveBundle(merchantKey);
  const msg = document.getElementById('bundle-msg');
  if (result.ok) {
    bundle = result.bundle;
    trust = result.trust;
    merchantPolicy = result.merchant;
    const saved = t('merchant.bundle.saved');
    setText('bundle-msg', result.setUp ? `${saved} ${t('merchant.bundle.setup', { n: trust.keys.filter((k) => k.source === 'pinned').length })}` : saved);
    msg.className = 'message';
  } else {
    const refused = `merchant.bundle.refused.${result.code}`;
    setText('bundle-msg', result.offline ? t('common.network')
      : (t(refused) !== refused ? t(refused) : t('merchant.bundle.bad', { detail: result.detail })));
    msg.className = 'message message-error';
    msg.dataset.refused = result.code || '';
  }
  renderBundleInfo();
}

// ---- verification
async function verify(text) {
  const code = String(text || '').trim();
  if (!code || busy) return;
  const now = Date.now();
  if (code === lastScan.text && now - lastScan.at < 4000) return;
  lastScan = { text: code, at: now };
  busy = true;
  try {
    let verdict = null;
    if (!offlineMode()) {
      const got = await api('/v1/verify', { method: 'POST', token: merchantKey, body: { qr: code } });
      if (got.status === 401) { signOut(); return; }
      if (got.ok) verdict = { ...got.data, offline: false, qr: code };
      else if (!got.offline) {
        setText('camera-msg', errorText(got));
        return;
      }
    }
    if (!verdict) {
      if (!bundle) {
        setText('camera-msg', `${t('merchant.bundle.none')} ${t('common.network')}`);
        return;
      }
      if (!POLICY) {
        setText('camera-msg', t('merchant.offline.nopolicy'));
        return;
      }
      verdict = { ...(await verifyOffline(bundle, code, POLICY, Date.now() / 1000, { merchant: merchantPolicy })), offline: true, qr: code };
    }
    if (verdict.refused) showRefusal(verdict);
    else showVerdict(verdict);
    if (!verdict.offline) loadRecent();
  } finally {
    busy = false;
  }
}

function benefitItem(b, v) {
  return h('li', {}, h('strong', {}, b.discount || ''), ' ', b.title || b.id, b.partner ? ` · ${b.partner}` : '',
    v?.valid ? redeemControls(b, { verdict: v, key: () => merchantKey, offline: offlineMode }) : null);
}

function showVerdict(v) {
  const ok = Boolean(v.valid);
  const box = document.getElementById('verdict');
  box.className = `verdict ${ok ? 'verdict-ok' : 'verdict-bad'}`;
  box.dataset.status = v.status;
  box.dataset.valid = String(ok);
  box.dataset.offline = String(Boolean(v.offline));
  setText('verdict-icon', ok ? '✓' : '✗');
  setText('verdict-title', `${label('status', v.status)}`);
  setText('verdict-status', ok ? t('merchant.verdict.ok') : t('merchant.verdict.no'));
  const mode = [];
  if (v.presentation) mode.push(t(`merchant.verdict.presentation.${v.presentation}`));
  if (v.offline) mode.push(t('merchant.verdict.offline', { age: fmtAge(bundleAgeSeconds()) }));
  setText('verdict-mode', mode.join(' · '));
  const dl = document.getElementById('verdict-card');
  const c = v.card;
  dl.replaceChildren(...(c ? [
    ['holder.card.name', c.masked_name], ['holder.card.category', label('category', c.category)],
    ['holder.card.region', regionName(c.region)], ['holder.card.expires', c.expires],
  ].map(([k, val]) => h('div', {}, h('dt', {}, t(k)), h('dd', {}, val || ''))) : []));
  const benefits = v.benefits || [];
  const na = v.not_applicable || [];
  show('verdict-benefits-box', ok);
  document.getElementById('verdict-benefits').replaceChildren(...(benefits.length ? benefits.map((b) => benefitItem(b, v)) : [h('li', {}, t('merchant.verdict.nobenefits'))]));
  show('verdict-na-box', ok && na.length > 0);
  document.getElementById('verdict-na').replaceChildren(...na.map((n) => h('li', {},
    h('strong', {}, n.title || n.id), ` — ${label('reason', n.reason)}`, n.message && n.message !== label('reason', n.reason) ? `（${n.message}）` : '')));
  box.hidden = false;
  document.getElementById('verdict-next').focus();
  beep(ok);
  showPhoto(v, merchantKey);
}

/** No verdict at all (an expired bundle): plain words, never green, a way back online. */
function showRefusal(result) {
  const box = document.getElementById('verdict');
  box.className = 'verdict verdict-stop';
  box.dataset.status = result.refused;
  box.dataset.valid = 'false';
  box.dataset.offline = 'true';
  setText('verdict-icon', '!');
  setText('verdict-title', t('merchant.offline.expired.title'));
  setText('verdict-status', t('merchant.offline.expired.words'));
  setText('verdict-mode', t('merchant.bundle.expired', { when: fmtDateTime(result.expires) }));
  document.getElementById('verdict-card').replaceChildren();
  show('verdict-benefits-box', false);
  show('verdict-na-box', false);
  box.hidden = false;
  document.getElementById('verdict-next').focus();
  beep(false);
  renderBundleInfo();
}

function closeVerdict() {
  clearPhoto();
  show('verdict', false);
  document.getElementById('manual-code').value = '';
  lastScan = { text: lastScan.text, at: Date.now() };
  (cameraStream ? document.getElementById('camera-toggle') : document.getElementById('manual-code')).focus();
}

async function loadRecent() {
  const got = await api('/v1/verifications?limit=10', { token: merchantKey });
  const list = document.getElementById('recent');
  const items = got.ok ? got.data.items || [] : [];
  if (!items.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('merchant.recent.empty')));
    return;
  }
  list.replaceChildren(...items.map((it) => h('li', { class: `history-item ${it.valid ? 'ok' : 'bad'}` },
    h('span', { class: 'history-when' }, fmtDateTime(it.checked_at || it.at)),
    h('span', {}, [it.card?.masked_name || it.masked_name || '', it.card?.card_number || it.card_number || ''].filter(Boolean).join(' ')),
    h('span', { class: 'history-result' }, label('status', it.status)))));
}

// ---- camera scanning with zxing-wasm (ZXing-C++ in WebAssembly, served from this origin)
let cameraStream = null;
let zxing = null;
let scanTimer = null;

async function reader() {
  if (!zxing) {
    zxing = await import('/static/vendor/zxing-wasm/es/reader/index.js');
    zxing.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith('.wasm') ? '/static/vendor/zxing-wasm/zxing_reader.wasm' : prefix + path),
      },
      fireImmediately: true,
    });
  }
  return zxing;
}

async function startCamera() {
  unlockAudio();
  try {
    const z = await reader();
    cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 } }, audio: false });
    const video = document.getElementById('camera');
    video.srcObject = cameraStream;
    await video.play();
    show('camera-box', true);
    document.getElementById('camera-toggle').textContent = t('merchant.scan.stop');
    setText('camera-msg', t('merchant.scan.camera.help'));
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const scan = async () => {
      if (!cameraStream) return;
      if (!document.getElementById('verdict').hidden || busy || video.readyState < 2) {
        scanTimer = setTimeout(scan, 200);
        return;
      }
      const scale = Math.min(1, 960 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      try {
        const results = await z.readBarcodes(ctx.getImageData(0, 0, canvas.width, canvas.height), { formats: ['QRCode'], tryHarder: true, maxNumberOfSymbols: 1 });
        const hit = results.find((r) => r.isValid && r.text);
        if (hit) await verify(hit.text);
      } catch { /* a bad frame: keep scanning */ }
      scanTimer = setTimeout(scan, 150);
    };
    scan();
  } catch (err) {
    stopCamera();
    setText('camera-msg', t('merchant.scan.camera.error', { detail: err?.message || String(err) }));
  }
}

function stopCamera() {
  clearTimeout(scanTimer);
  if (cameraStream) for (const track of cameraStream.getTracks()) track.stop();
  cameraStream = null;
  show('camera-box', false);
  const toggle = document.getElementById('camera-toggle');
  if (toggle) toggle.textContent = t('merchant.scan.camera');
}

async function enterDesk() {
  show('signin', false);
  show('desk', true);
  const kept = await loadBundle();
  bundle = kept?.bundle ?? null;
  merchantPolicy = kept?.merchant ?? null;
  trust = kept?.trust ?? (await loadTrust());
  renderMode();
  if (!offlineMode()) loadRecent();
  await renderQueue();
  if (!offlineMode()) sendQueue(merchantKey);
  document.getElementById('manual-code').focus();
}

async function main() {
  await initI18n();
  registerServiceWorker();
  onlineBanner();
  loadRegionNames();
  onLangChange(() => { renderMode(); if (cameraStream) document.getElementById('camera-toggle').textContent = t('merchant.scan.stop'); });
  window.addEventListener('online', renderMode);
  const sendWhenOnline = () => { if (merchantKey && !offlineMode()) sendQueue(merchantKey); };
  window.addEventListener('online', sendWhenOnline);
  document.getElementById('force-offline').addEventListener('change', sendWhenOnline);
  document.getElementById('queue-send').addEventListener('click', sendWhenOnline);
  window.addEventListener('offline', renderMode);
  document.getElementById('force-offline').addEventListener('change', renderMode);
  document.getElementById('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    unlockAudio();
    const key = document.getElementById('merchant-key').value.trim();
    if (await signIn(key)) {
      document.getElementById('merchant-key').value = '';
      setText('signin-msg', '');
      await enterDesk();
    } else {
      setText('signin-msg', t('merchant.signin.bad'));
    }
  });
  document.getElementById('signout').addEventListener('click', signOut);
  document.getElementById('camera-toggle').addEventListener('click', () => (cameraStream ? stopCamera() : startCamera()));
  document.getElementById('manual-form').addEventListener('submit', (e) => {
    e.preventDefault();
    unlockAudio();
    lastScan = { text: '', at: 0 };
    verify(document.getElementById('manual-code').value);
  });
  document.getElementById('bundle-download').addEventListener('click', downloadBundle);
  document.getElementById('trust-reset').addEventListener('click', async () => {
    if (!window.confirm(t('merchant.trust.reset.confirm'))) return;
    await forgetTrust();
    bundle = null;
    trust = null;
    merchantPolicy = null;
    setText('bundle-msg', t('merchant.trust.reset.done'));
    renderBundleInfo();
  });
  document.getElementById('verdict-next').addEventListener('click', closeVerdict);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !document.getElementById('verdict').hidden) closeVerdict();
  });
  merchantKey = localStorage.getItem(KEY);
  if (merchantKey) await enterDesk();
  else show('signin', true);
  document.body.dataset.ready = 'true';
}

main();
