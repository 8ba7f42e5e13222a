// The share link page (templates/sharelinks/page.html): reads the link's token from the URL's
// fragment, which the browser never sends anywhere, posts it in a JSON body to fetch the code,
// and fetches again at each period's end until the link ends. The server computes every code;
// this page only counts down between answers, on the monotonic clock (`performance.now`).
import { copyCode } from "./codes.js";

const root = document.getElementById("share");
const RETRY_MS = 5_000;
// Ask a little after the period ends, so the server is surely in the next one.
const BOUNDARY_MARGIN_MS = 300;

let token = "";
let opened = true;
let codeEndsAt = 0;
let linkEndsAt = 0;
let period = 30;
let timer = null;
let ticker = null;

function element(id) {
  return document.getElementById(id);
}

/** Digits in two groups, as the code list shows them: 123 456, 1234 5678. */
function grouped(code) {
  if (!/^\d{6,}$/.test(code)) return code;
  const half = Math.floor(code.length / 2);
  return `${code.slice(0, half)} ${code.slice(half)}`;
}

function minutesAndSeconds(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

function say(message) {
  element("share-status").textContent = message;
}

/** The link shows nothing any more: say so, and hide the last code. */
function ended(message = root.dataset.ended) {
  clearTimeout(timer);
  clearInterval(ticker);
  for (const id of ["share-code", "share-countdown", "share-name"]) element(id).hidden = true;
  element("share-link-left").textContent = "";
  element("share-issuer").textContent = message;
  say("");
  root.classList.add("share-ended");
}

function tick() {
  const now = performance.now();
  if (linkEndsAt && now >= linkEndsAt) {
    ended();
    return;
  }
  const codeLeft = Math.max(0, codeEndsAt - now);
  element("share-code-left").textContent = root.dataset.codeLeft.replace("{seconds}", String(Math.ceil(codeLeft / 1000)));
  element("share-link-left").textContent = root.dataset.linkLeft.replace("{time}", minutesAndSeconds(linkEndsAt - now));
}

function startBar(codeLeftMs) {
  const bar = element("share-bar");
  for (const animation of bar.getAnimations()) animation.cancel();
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  bar.animate([{ transform: `scaleX(${codeLeftMs / (period * 1000)})` }, { transform: "scaleX(0)" }], {
    duration: codeLeftMs,
    fill: "forwards",
    easing: reduced ? "steps(10)" : "linear",
  });
}

function show(data) {
  const now = performance.now();
  period = data.period;
  codeEndsAt = now + data.code_left_ms;
  linkEndsAt = now + data.link_left_ms;
  element("share-issuer").textContent = data.issuer || data.name || "—";
  const name = element("share-name");
  name.textContent = data.issuer ? data.name : "";
  name.hidden = !name.textContent;
  const code = element("share-code");
  code.textContent = grouped(data.code);
  code.dataset.copy = data.code;
  code.hidden = false;
  element("share-countdown").hidden = false;
  say("");
  startBar(data.code_left_ms);
  tick();
}

function later(ms) {
  clearTimeout(timer);
  timer = setTimeout(fetchCode, ms);
}

async function fetchCode() {
  let response;
  try {
    response = await fetch(root.dataset.codeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token, open: opened }),
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    say(root.dataset.unreachable);
    later(RETRY_MS);
    return;
  }
  if (response.ok) {
    opened = false;
    const data = await response.json();
    show(data);
    if (data.code_left_ms < data.link_left_ms) later(data.code_left_ms + BOUNDARY_MARGIN_MS);
    return;
  }
  if (response.status === 400) {
    ended(root.dataset.notALink);
  } else if (response.status === 410 || response.status === 404) {
    ended();
  } else if (response.status === 429) {
    say(root.dataset.tooMany);
    later((Number(response.headers.get("Retry-After")) || 10) * 1000);
  } else {
    say(root.dataset.unreachable);
    later(RETRY_MS);
  }
}

function start() {
  if (!root) return;
  // The token is everything after `#`; a link pasted with a line break or spaces still works.
  try {
    token = decodeURIComponent(window.location.hash.slice(1)).replace(/\s+/g, "");
  } catch {
    token = ""; // a broken escape (`#%E0`): no link at all
  }
  if (!token) {
    ended(root.dataset.notALink);
    return;
  }
  element("share-code").addEventListener("click", (event) => copyCode(event.currentTarget));
  ticker = setInterval(tick, 250);
  // After sleep or a background tab the timers are late: ask at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !root.classList.contains("share-ended")) later(0);
  });
  fetchCode();
}

start();
