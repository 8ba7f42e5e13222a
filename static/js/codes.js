// The code list's client side: the rings, copying, and keeping the list's clock going.
// The server decides when codes change (listing.Clock) and sends only the digits that changed
// (templates/partials/codes_tick.html); this module turns the rings between those moments and
// never computes a code.

const RING_FRAMES = [
  { "--elapsed": 0, "--ring": "var(--brand)", offset: 0 },
  { "--elapsed": 0.8, "--ring": "var(--brand)", offset: 0.8 },
  { "--elapsed": 1, "--ring": "var(--danger)", offset: 1 },
];
// A clock that could not ask (no network, a server restarting) asks again this much later.
const RETRY_MS = 10_000;

// The server's time minus this device's, from the list's clock (`data-now-ms`).
let serverOffsetMs = 0;

const BAR_FRAMES = [{ transform: "scaleX(1)" }, { transform: "scaleX(0)" }];

/**
 * Start each countdown under `root` where its period stands at `nowMs` (the server's time by
 * default): the list's bars (`.countdown`, a transform, which the browser runs off the main
 * thread) and the offline page's rings (`.timer` in a row, its `--elapsed` animated). The Web
 * Animations API keeps this off the style attribute, which the CSP forbids.
 */
export function startRings(root, nowMs = Date.now() + serverOffsetMs) {
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  for (const bar of root.querySelectorAll(".countdown[data-period] .countdown-bar > span")) {
    const periodMs = Number(bar.closest("[data-period]").dataset.period) * 1000;
    if (!periodMs) continue;
    for (const animation of bar.getAnimations()) animation.cancel();
    bar.animate(BAR_FRAMES, {
      duration: periodMs,
      delay: -(nowMs % periodMs),
      iterations: Infinity,
      easing: reduced ? "steps(10)" : "linear",
    });
  }
  for (const timer of root.querySelectorAll("[data-period] .timer")) {
    const periodMs = Number(timer.closest("[data-period]").dataset.period) * 1000;
    if (!periodMs) continue;
    for (const animation of timer.getAnimations()) animation.cancel();
    timer.animate(RING_FRAMES, {
      duration: periodMs,
      delay: -(nowMs % periodMs),
      iterations: Infinity,
      easing: reduced ? "steps(10)" : "linear",
    });
  }
}

/** Say something briefly; the messages come translated from the page (data-* on #toast). */
function announce(key) {
  const toast = document.getElementById("toast");
  if (!toast) return;
  toast.textContent = toast.dataset[key];
  toast.classList.add("visible");
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => toast.classList.remove("visible"), 1800);
}

/** What a copy button copies: its `data-copy`, or the code it shows now (spaces are for reading). */
export function codeOf(button) {
  if (button.dataset.copy !== undefined) return button.dataset.copy;
  return button.textContent.replace(/\s+/g, "");
}

export async function copyCode(button) {
  try {
    await navigator.clipboard.writeText(codeOf(button));
    button.classList.add("copied");
    setTimeout(() => button.classList.remove("copied"), 900);
    announce("copied");
  } catch {
    announce("copyFailed");
  }
}

function refreshList() {
  const list = document.getElementById("codes");
  if (list) window.htmx.trigger(list, "refresh");
}

/**
 * Each clock that arrives (with the page, the list, or a tick) sets the server's time, and
 * the rings are turned again from it: they stay right after a sleep and on a device whose
 * clock is off. Rows that arrive without a clock start from the last one.
 */
function followClock(element) {
  const clock = element.id === "codes-clock" ? element : element.querySelector?.("#codes-clock");
  if (!clock) {
    startRings(element);
    return;
  }
  serverOffsetMs = Number(clock.dataset.nowMs) - Date.now();
  const list = document.getElementById("codes");
  if (list) startRings(list);
}

/** After sleep or a background tab, timers are late: ask for a fresh list at once. */
function refreshWhenVisible() {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshList();
  });
}

/** A clock whose request failed asks nothing more by itself: ask for the list a little later. */
function retryFailedClock() {
  const retry = (event) => {
    const failed = event.type === "htmx:sendError" || event.detail.xhr?.status >= 500;
    if (event.detail.elt?.id === "codes-clock" && failed) setTimeout(refreshList, RETRY_MS);
  };
  document.addEventListener("htmx:sendError", retry);
  document.addEventListener("htmx:responseError", retry);
}

export function initCodes() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy], #codes button.code");
    if (button) copyCode(button);
  });
  window.htmx.onLoad(followClock);
  refreshWhenVisible();
  retryFailedClock();
}
