// The holder's photo beside a valid online verdict: fetched from the verdict's photo_url
// with the merchant key (good for 120 s, this key only) and shown large as a blob URL, so
// the gate can check that the person at the gate is the holder. Never stored.
import { api } from '/static/js/app.js';

let shown = null;

export function clearPhoto() {
  const img = document.getElementById('verdict-photo');
  if (img) {
    img.hidden = true;
    img.removeAttribute('src');
  }
  if (shown) URL.revokeObjectURL(shown);
  shown = null;
}

export async function showPhoto(verdict, merchantKey) {
  clearPhoto();
  if (!verdict || !verdict.valid || verdict.offline || !verdict.photo_url) return;
  const got = await api(verdict.photo_url, { token: merchantKey, raw: true });
  if (!got.ok || !got.data) return;
  const type = got.headers?.get('content-type') || 'image/jpeg';
  shown = URL.createObjectURL(new Blob([got.data], { type }));
  const img = document.getElementById('verdict-photo');
  if (img) {
    img.src = shown;
    img.hidden = false;
  }
}
