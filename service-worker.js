// webauth's service worker: keeps the app shell so the installed app opens with no network.
//
// - The shell (the offline page, styles, scripts, icons) is cached under a versioned name at
//   install; the server fills in the list and the version, a digest of those files
//   (views/pwa.py), so any change installs a new worker, which removes the old caches when it
//   activates.
// - Pages are network-first. When the network fails (or a proxy says the app is down), the
//   cached offline page answers instead, and computes codes from the offline copy.
// - Nothing else is ever cached: code lists, fragments, the vault JSON and every other
//   response go to the network untouched. Only the shell list enters the cache, and none of
//   it holds a code, a secret or a CSRF token.
// - A new version waits until the page's "Update available" prompt asks it to take over.

const SHELL_VERSION = "__SHELL_VERSION__";
const SHELL_CACHE = `webauth-shell-${SHELL_VERSION}`;
const OFFLINE_PAGE = "/offline";
// The offline page first, then every static file of the shell (views/pwa.py, `shell_urls`).
const SHELL_FILES = JSON.parse("__SHELL_FILES__");
const SHELL_PATHS = new Set(SHELL_FILES);
// What a reverse proxy answers while the app behind it is down: as good as no network.
const GATEWAY_ERRORS = new Set([502, 503, 504]);

/** Fetch the shell past the HTTP cache, so a new version never caches an old file. */
function cacheShell(cache, urls) {
  return cache.addAll(urls.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })));
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cacheShell(cache, SHELL_FILES)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith("webauth-shell-") && name !== SHELL_CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skip-waiting") {
    self.skipWaiting();
  } else if (event.data?.type === "page-language") {
    // A live page says its language: the offline page follows it when the kept one differs.
    event.waitUntil(
      (async () => {
        const cache = await caches.open(SHELL_CACHE);
        const kept = await cache.match(OFFLINE_PAGE);
        if (kept && kept.headers.get("Content-Language") !== event.data.lang) await cacheShell(cache, [OFFLINE_PAGE]);
      })(),
    );
  } else if (event.data?.type === "cache-offline-page") {
    // The page is cached in the language of the request; a page in another language asks again.
    event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cacheShell(cache, [OFFLINE_PAGE])));
  }
});

async function offlinePage() {
  const cache = await caches.open(SHELL_CACHE);
  return cache.match(OFFLINE_PAGE);
}

async function pageOrOffline(request) {
  try {
    const response = await fetch(request);
    if (!GATEWAY_ERRORS.has(response.status)) return response;
    return (await offlinePage()) || response;
  } catch (error) {
    const fallback = await offlinePage();
    if (fallback) return fallback;
    throw error;
  }
}

async function fromShell(request) {
  const cache = await caches.open(SHELL_CACHE);
  return (await cache.match(request)) || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(pageOrOffline(request));
  } else if (SHELL_PATHS.has(url.pathname) && !url.search && url.pathname !== OFFLINE_PAGE) {
    event.respondWith(fromShell(request));
  }
  // Anything else is left to the browser: straight to the network, never into a cache.
});
