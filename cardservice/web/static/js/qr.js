// Draw a QR code on a canvas with qrcode-generator: crisp modules, a 4-module quiet zone.
import qrcode from '/static/vendor/qrcode-generator/qrcode.mjs';

const B45_ALPHABET = /^[0-9A-Z $%*+\-./:]*$/;

/** Render `text` into `canvas`, as large as fits `maxPx`; returns the module count. */
export function drawQr(canvas, text, { maxPx = 360, ecl = 'M' } = {}) {
  const qr = qrcode(0, ecl);
  qr.addData(text, B45_ALPHABET.test(text) ? 'Alphanumeric' : 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const total = n + 8;
  // Whole device pixels per module (crisp), displayed at the full width available.
  const ratio = window.devicePixelRatio || 1;
  const scale = Math.max(2, Math.ceil((maxPx * ratio) / total));
  const size = total * scale;
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = `${Math.min(maxPx, size / ratio)}px`;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#000';
  for (let r = 0; r < n; r += 1) {
    for (let c = 0; c < n; c += 1) {
      if (qr.isDark(r, c)) ctx.fillRect((c + 4) * scale, (r + 4) * scale, scale, scale);
    }
  }
  return n;
}
