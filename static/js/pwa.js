/**
 * The service worker's registration, and the "Update available" prompt.
 *
 * A new version of the app (any change to its static files) installs a new worker, which
 * waits rather than take over a page that runs the old scripts. The page then offers to
 * reload; on "Reload" the waiting worker activates and the page reloads once under it.
 * An installed app can stay open for days, so it also looks for an update when it comes
 * back to the foreground, at most once an hour.
 *
 * @module pwa
 */

const WORKER_URL = '/service-worker.js';
const CHECK_EVERY_MS = 60 * 60 * 1000;

function offerUpdate(worker) {
  const banner = document.getElementById('update-banner');
  if (!banner) return;
  banner.hidden = false;
  banner.querySelector('button').onclick = () => {
    banner.hidden = true;
    worker.postMessage({ type: 'skip-waiting' });
  };
}

function watch(registration) {
  if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const worker = registration.installing;
    worker?.addEventListener('statechange', () => {
      // With no controller this is the first install, which takes over at once: nothing to offer.
      if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  let checkedAt = Date.now();
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && Date.now() - checkedAt > CHECK_EVERY_MS) {
      checkedAt = Date.now();
      registration.update().catch(() => {});
    }
  });
}

export function initPwa() {
  if (!('serviceWorker' in navigator)) return;
  let controlled = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The first worker taking over (clients.claim) needs no reload. An update does, whichever
    // tab accepted it, so that no page runs old scripts under a new worker.
    if (controlled) window.location.reload();
    controlled = true;
  });
  navigator.serviceWorker
    .register(WORKER_URL, { scope: '/' })
    .then((registration) => {
      watch(registration);
      sayPageLanguage();
    })
    .catch(() => {
      // The app works without it; the installed experience just loses its cached shell.
    });
}

/** Tell the worker this page's language: it keeps the offline page in the same one. */
function sayPageLanguage() {
  const lang = document.documentElement.lang;
  if (lang && !document.getElementById('offline-app')) {
    navigator.serviceWorker.controller?.postMessage({ type: 'page-language', lang });
  }
}

/** Have the worker cache the offline page again, e.g. in the language now chosen. */
export function recacheOfflinePage() {
  navigator.serviceWorker?.controller?.postMessage({ type: 'cache-offline-page' });
}
