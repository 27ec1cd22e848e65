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
  root.classList.remove('i18n-boot');
})();
