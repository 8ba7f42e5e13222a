// The code list's client side: countdown rings, copy to clipboard, refresh on wake.
// The server decides when codes change (see vault.next_refresh_ms) and sends them (the list's
// clock, templates/partials/codes_clock.html); this module only animates between those
// moments and never computes codes.

const RING_FRAMES = [
  { strokeDashoffset: 0, offset: 0 },
  { strokeDashoffset: 80, offset: 0.8, stroke: "var(--brand)" },
  { strokeDashoffset: 100, offset: 1, stroke: "var(--danger)" },
];

/**
 * Start each ring where the server says the period stands. The Web Animations API keeps
 * this off the style attribute, which the CSP forbids and htmx would copy when it settles.
 */
export function startRings(root) {
  for (const item of root.querySelectorAll("[data-period][data-remaining-ms]")) {
    const bar = item.querySelector(".ring-bar");
    if (!bar) continue;
    const periodMs = Number(item.dataset.period) * 1000;
    const elapsedMs = periodMs - Number(item.dataset.remainingMs);
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    bar.animate(RING_FRAMES, {
      duration: periodMs,
      delay: -elapsedMs,
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

export async function copyCode(button) {
  const code = button.dataset.copy;
  try {
    await navigator.clipboard.writeText(code);
    button.classList.add("copied");
    setTimeout(() => button.classList.remove("copied"), 900);
    announce("copied");
  } catch {
    announce("copyFailed");
  }
}

/** After sleep or a background tab, timers are late: ask for a fresh list at once. */
function refreshWhenVisible() {
  document.addEventListener("visibilitychange", () => {
    const list = document.getElementById("codes");
    if (document.visibilityState === "visible" && list) window.htmx.trigger(list, "refresh");
  });
}

export function initCodes() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (button) copyCode(button);
  });
  window.htmx.onLoad(startRings);
  refreshWhenVisible();
}
