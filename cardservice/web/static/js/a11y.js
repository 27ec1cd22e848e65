// Shared by every page: a text-size control the page remembers (localStorage; boot.js
// applies it before first paint) and read-aloud with the browser's speech synthesis.
// A button with data-read-aloud="id1 id2" reads those elements' visible text, in the
// page's language, with a zh-CN voice first when the page is Chinese.
import { currentLang, onLangChange, t } from '/static/js/app.js';

export const SIZE_KEY = 'cardservice.textSize';
export const SIZES = ['m', 'l', 'xl'];

export function currentSize() {
  let saved = null;
  try { saved = localStorage.getItem(SIZE_KEY); } catch { saved = null; }
  return SIZES.includes(saved) ? saved : 'm';
}

export function setSize(size) {
  const root = document.documentElement;
  for (const s of SIZES) root.classList.toggle(`text-size-${s}`, s === size && s !== 'm');
  try { localStorage.setItem(SIZE_KEY, size); } catch { /* private mode: not remembered */ }
  markSizeButton();
}

function markSizeButton() {
  const button = document.getElementById('text-size');
  if (!button) return;
  const size = currentSize();
  const visible = t(`a11y.size.${size}`);
  button.textContent = visible;
  // The accessible name contains the visible text (speech-input users say what they see).
  button.setAttribute('aria-label', `${visible} ${t('a11y.size.label')}: ${t(`a11y.size.${size}.name`)}`);
  button.dataset.size = size;
}

/** The visible text of the elements named by id (hidden ones and their hidden parts skipped). */
export function textOf(ids) {
  const parts = [];
  for (const id of ids) {
    const el = document.getElementById(id);
    if (!el || el.hidden || el.closest('[hidden]')) continue;
    const text = (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim();
    if (text) parts.push(text);
  }
  return parts.join('。 ');
}

export function pickVoice(voices, lang) {
  const want = lang === 'en' ? ['en-US', 'en-GB', 'en'] : ['zh-CN', 'zh-Hans', 'zh'];
  for (const prefix of want) {
    const found = voices.find((v) => (v.lang || '').replace('_', '-').startsWith(prefix));
    if (found) return found;
  }
  return null;
}

export function speak(text) {
  if (!('speechSynthesis' in window) || !text) return false;
  const lang = currentLang() === 'en' ? 'en-US' : 'zh-CN';
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.lang = lang;
  utterance.rate = 0.9; // a little slower: many holders are elderly
  const voice = pickVoice(window.speechSynthesis.getVoices(), currentLang());
  if (voice) utterance.voice = voice;
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(utterance);
  return true;
}

function wireReadAloud(root = document) {
  const supported = 'speechSynthesis' in window;
  for (const button of root.querySelectorAll('[data-read-aloud]')) {
    if (button.dataset.readAloudWired) continue;
    button.dataset.readAloudWired = '1';
    button.hidden = !supported;
    button.addEventListener('click', () => speak(textOf(button.dataset.readAloud.split(/\s+/))));
  }
}

function initA11y() {
  const button = document.getElementById('text-size');
  if (button) {
    button.addEventListener('click', () => {
      const next = SIZES[(SIZES.indexOf(currentSize()) + 1) % SIZES.length];
      setSize(next);
    });
  }
  markSizeButton();
  onLangChange(markSizeButton);
  wireReadAloud();
  new MutationObserver(() => wireReadAloud()).observe(document.body, { childList: true, subtree: true });
}

// app.js announces its dictionary; every page's own module runs after this one.
document.addEventListener('i18n-ready', initA11y, { once: true });
