// The idle lock (a setting on the admin's settings page). After the minutes the page names with
// no key press, click, touch or scroll, the page posts its lock form: the server ends the session
// and shows the sign-in page, so the codes stay hidden until the user signs in again.
//
// Activity in any tab of the app counts (it is shared through localStorage), so a forgotten
// background tab does not lock the one in use. Time is read from the clock, not counted by
// timers, so a phone that slept past the limit locks as soon as the page wakes. The server
// refuses an idle session on its own too (users.idle_locked), for when this page was not running.

const STORAGE_KEY = "webauth:last-activity";
const ACTIVITY_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart", "scroll"];
const WRITE_EVERY_MS = 5_000;

function sharedActivity() {
  try {
    return Number(localStorage.getItem(STORAGE_KEY)) || 0;
  } catch {
    return 0; // storage may be off (private mode): this tab's own activity still counts
  }
}

function shareActivity(at) {
  try {
    localStorage.setItem(STORAGE_KEY, String(at));
  } catch {
    // see sharedActivity
  }
}

export function initIdleLock(form = document.getElementById("idle-lock")) {
  const limitMs = Number(form?.dataset.idleMinutes) * 60_000;
  if (!(limitMs > 0)) return;
  let last = Date.now();
  let written = 0;
  let locked = false;
  shareActivity(last);

  const noteActivity = () => {
    last = Date.now();
    if (last - written >= WRITE_EVERY_MS) {
      written = last;
      shareActivity(last);
    }
  };
  const check = () => {
    if (locked || Date.now() - Math.max(last, sharedActivity()) < limitMs) return;
    locked = true;
    form.submit();
  };

  for (const type of ACTIVITY_EVENTS) {
    document.addEventListener(type, noteActivity, { capture: true, passive: true });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") check();
  });
  window.addEventListener("pageshow", check);
  setInterval(check, Math.min(15_000, limitMs / 4));
}

initIdleLock();
