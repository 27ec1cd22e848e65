import { initI18n, registerServiceWorker } from '/static/js/app.js';

await initI18n();
registerServiceWorker();
