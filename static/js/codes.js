// The code list's client side: the countdown, copying, and keeping the list's clock going.
// The server decides when codes change (listing.Clock) and sends only the digits that changed
// (templates/partials/codes_tick.html); this module turns the countdown between those moments
// and never computes a code.

// A clock that could not ask (no network, a server restarting) asks again this much later.
const RETRY_MS = 10_000;

// The server's time minus this device's, from the list's clock (`data-now-ms`).
let serverOffsetMs = 0;

const COUNTDOWN_FRAMES = [{ "--elapsed": 0 }, { "--elapsed": 1 }];
// The countdown turns the warning colour for this many last seconds of a period.
export const WARNING_SECONDS = 5;

/** Whole seconds left of a period of `periodSeconds` at `nowMs`: from the period down to 1. */
export function secondsLeft(nowMs, periodSeconds) {
  const periodMs = periodSeconds * 1000;
  return Math.ceil((periodMs - (((nowMs % periodMs) + periodMs) % periodMs)) / 1000);
}

let countdownTimer = null;
// The countdowns' clock minus this device's: the server's (the list), or the offline copy's.
let countdownOffsetMs = 0;

/**
 * The page's countdowns (`.countdown[data-period]`: the list's, or an account page's) say
 * the seconds left, and turn the warning colour in the last ones. One timer for the page, set
 * just past each second of the server's time.
 */
function countSeconds() {
  clearTimeout(countdownTimer);
  const nowMs = Date.now() + countdownOffsetMs;
  const countdowns = document.querySelectorAll(".countdown[data-period]");
  for (const countdown of countdowns) {
    const left = secondsLeft(nowMs, Number(countdown.dataset.period));
    const seconds = countdown.querySelector(".countdown-seconds");
    if (seconds && seconds.textContent !== String(left)) seconds.textContent = String(left);
    countdown.classList.toggle("countdown-ending", left <= WARNING_SECONDS);
  }
  if (countdowns.length) countdownTimer = setTimeout(countSeconds, 1000 - (nowMs % 1000) + 20);
}

/**
 * Start each countdown under `root` where its period stands at `nowMs` (the server's time by
 * default; the offline page passes its copy's): the rings of the page's countdowns
 * (`.countdown-ring`, the list's, an account page's, the offline list's), their `--elapsed`
 * animated by the Web Animations API, which keeps this off the style attribute (the CSP
 * forbids it); and the seconds in them, counted on the same clock.
 */
export function startRings(root, nowMs = Date.now() + serverOffsetMs) {
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  countdownOffsetMs = nowMs - Date.now();
  for (const ring of root.querySelectorAll(".countdown[data-period] .countdown-ring")) {
    const periodMs = Number(ring.closest("[data-period]").dataset.period) * 1000;
    if (!periodMs) continue;
    for (const animation of ring.getAnimations()) animation.cancel();
    ring.animate(COUNTDOWN_FRAMES, {
      duration: periodMs,
      delay: -(nowMs % periodMs),
      iterations: Infinity,
      easing: reduced ? "steps(10)" : "linear",
    });
  }
  if (root.querySelector(".countdown[data-period]")) countSeconds();
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
  // The words that name the button (visually hidden) are not the code.
  const shown = [...button.childNodes].filter((node) => !node.classList?.contains("visually-hidden"));
  return shown.map((node) => node.textContent).join("").replace(/\s+/g, "");
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
  const clock = element.matches?.("[data-now-ms]") ? element : element.querySelector?.("[data-now-ms]");
  if (!clock) {
    startRings(element);
    return;
  }
  serverOffsetMs = Number(clock.dataset.nowMs) - Date.now();
  startRings(document.getElementById("codes") || document.getElementById("main") || document.body);
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

// What a tap on a row leaves alone: its own controls, and text being selected.
const ROW_CONTROLS = "a, button, input, select, textarea, summary, label, [contenteditable]";

/**
 * A tap anywhere on a row of the list copies its code: the row hands the click to its copy
 * button, which stays the control keyboards and screen readers use. The row's other
 * controls (favorite, details, delete, next code, and the icon that drags the row in the
 * user's own order) keep their own click.
 */
function rowTapCopies(event) {
  const row = event.target.closest?.("#codes .account");
  if (!row || event.target.closest(ROW_CONTROLS) || String(window.getSelection?.() || "")) return;
  // In the user's own order the icon is the handle rows are dragged by.
  if (event.target.closest("#codes[data-reorder] .avatar")) return;
  row.querySelector("button.code")?.click();
}

export function initCodes() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy], #codes button.code");
    if (button) copyCode(button);
    else rowTapCopies(event);
  });
  window.htmx.onLoad(followClock);
  refreshWhenVisible();
  retryFailedClock();
}
