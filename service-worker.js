// webauth service worker: caches the app shell (styles, scripts, icons) so the installed
// app opens fast. Pages are always fetched from the network: they may hold codes, and the
// server marks them no-store. The shell version is filled in by the server.
const SHELL_VERSION = "__SHELL_VERSION__";
const SHELL_CACHE = `webauth-shell-${SHELL_VERSION}`;
const SHELL_FILES = [
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/codes.js",
  "/static/vendor/htmx.min.js",
  "/static/icons/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_FILES)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((names) =>
      Promise.all(
        names.filter((name) => name.startsWith("webauth-shell-") && name !== SHELL_CACHE).map((name) => caches.delete(name)),
      ),
    ),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/static/")) {
    return;
  }
  event.respondWith(caches.match(event.request).then((cached) => cached || fetch(event.request)));
});
