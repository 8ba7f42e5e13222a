// Casdoor sync while the app is open: a sync every WEBAUTH_CASDOOR_SYNC_INTERVAL seconds while
// the page is visible (and at once on coming back after longer), the code list refreshed when a
// sync changed it, and the sign-out page's form sent to Casdoor on load.

const DEFAULT_INTERVAL_SECONDS = 60;

function autosyncElement() {
  return document.getElementById("casdoor-autosync");
}

/** Ask for a sync; the server skips it when one ran moments ago (another tab, another device). */
function requestSync() {
  const element = autosyncElement();
  if (element && typeof htmx !== "undefined") htmx.trigger(element, "webauth:sync");
}

function schedulePeriodicSync() {
  const element = autosyncElement();
  if (!element) return;
  const interval = (Number(element.dataset.syncInterval) || DEFAULT_INTERVAL_SECONDS) * 1000;
  let last = Date.now();
  let timer = null;

  const due = () => {
    timer = null;
    if (document.visibilityState !== "visible") return;
    last = Date.now();
    requestSync();
    timer = setTimeout(due, interval);
  };
  timer = setTimeout(due, interval);

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") {
      clearTimeout(timer);
      timer = null;
      return;
    }
    if (timer !== null) return;
    const waited = Date.now() - last;
    timer = setTimeout(due, Math.max(0, interval - waited));
  });
}

/** A sync that changed the vault says so in an HX-Trigger header: the list then reloads. */
function refreshCodesAfterSync() {
  document.body.addEventListener("webauth:vault-changed", () => {
    const codes = document.getElementById("codes");
    if (codes && typeof htmx !== "undefined") htmx.trigger(codes, "refresh");
  });
}

/** The end-session page: its form goes to Casdoor at once (the button stays for no-JS users). */
function submitOnLoad() {
  const form = document.querySelector("form[data-submit-on-load]");
  if (form) form.submit();
}

export function initSync() {
  submitOnLoad();
  refreshCodesAfterSync();
  schedulePeriodicSync();
}
