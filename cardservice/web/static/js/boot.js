// Runs before first paint: pick the remembered language so English readers never see a
// flash of the Chinese default. Safe without the rest of the scripts.
(function () {
  var root = document.documentElement;
  var lang = null;
  try { lang = localStorage.getItem('cardservice.lang'); } catch (e) { lang = null; }
  if (lang === 'en') {
    root.lang = 'en';
    root.classList.add('i18n-pending');
    setTimeout(function () { root.classList.remove('i18n-pending'); }, 1500);
  }
  var size = null;
  try { size = localStorage.getItem('cardservice.textSize'); } catch (e) { size = null; }
  if (size === 'l' || size === 'xl') root.classList.add('text-size-' + size);
  root.classList.remove('i18n-boot');
})();
