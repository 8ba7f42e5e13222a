// The code list's client side: countdown rings, copy to clipboard, refresh on wake.
// The server decides when the list changes (see vault.next_refresh_ms); this module only
// animates between those moments and never computes codes.

/** Start each ring where the server says the period stands, as a CSS animation. */
function startRings(root) {
  const arrivedAt = performance.now();
  for (const item of root.querySelectorAll("[data-period][data-remaining-ms]")) {
    const period = Number(item.dataset.period);
    const remaining = Number(item.dataset.remainingMs) / 1000;
    const elapsed = period - remaining + (performance.now() - arrivedAt) / 1000;
    item.style.setProperty("--period", `${period}s`);
    item.style.setProperty("--elapsed", `-${elapsed.toFixed(3)}s`);
    item.classList.add("ticking");
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

async function copyCode(button) {
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
