/**
 * Offering to install the app (templates/pwa/install.html).
 *
 * Where the browser can install it, it says so with `beforeinstallprompt`: the page keeps that
 * event and shows an "Install" button, which opens the browser's own prompt. Safari on an
 * iPhone or iPad has no such event, so there the page says how: Share, then "Add to Home
 * Screen". Neither shows in the installed app, nor after the app is installed, and each stays
 * away once dismissed on this device.
 *
 * Either waits for the person's first click, tap or key on the page: it is not what they came
 * for, so it never covers their first look at the list. (Shown as soon as the browser offered,
 * its paragraph was the list's largest paint, after every script had loaded: Lighthouse's
 * Largest Contentful Paint, issue 21.) It comes once that click has done its work, so a tap
 * near the bottom of the screen is never taken by the offer appearing under the finger.
 *
 * @module install
 */

const DISMISSED = 'webauth.install.dismissed';
const IOS_DISMISSED = 'webauth.install.ios-dismissed';

/** Whether this page runs as the installed app. */
export function isStandalone() {
  return window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
}

/**
 * Whether a browser is Safari on an iPhone, iPod or iPad (iPadOS says "Macintosh", but has a
 * touch screen). Chrome, Firefox, Edge and the rest on iOS name themselves.
 */
export function isIosSafari(userAgent, maxTouchPoints) {
  const apple = /iPhone|iPad|iPod/.test(userAgent) || (/Macintosh/.test(userAgent) && maxTouchPoints > 1);
  return apple && /Safari\//.test(userAgent) && !/CriOS|FxiOS|EdgiOS|OPiOS|GSA\/|DuckDuckGo/.test(userAgent);
}

function remembered(key) {
  try {
    return window.localStorage.getItem(key) === '1';
  } catch {
    return false; // storage refused (private mode): ask again next time
  }
}

function remember(key) {
  try {
    window.localStorage.setItem(key, '1');
  } catch {
    // Not remembered: it only shows again.
  }
}

function dismissible(box, key) {
  box.querySelector('[data-dismiss]').addEventListener('click', () => {
    box.hidden = true;
    remember(key);
  });
}

/** Calls `then` once, after the person's first click (or tap) or key press on this page. */
function afterFirstInput(then) {
  let waiting = true;
  const engaged = () => {
    if (!waiting) return;
    waiting = false;
    setTimeout(then, 0); // after the click's own handlers
  };
  window.addEventListener('click', engaged, { capture: true, once: true });
  window.addEventListener('keydown', engaged, { capture: true, once: true });
}

export function initInstall() {
  const offer = document.getElementById('install-prompt');
  const steps = document.getElementById('install-ios');
  if (!offer || !steps || isStandalone()) return;
  let offered = null;
  let engaged = false;
  const iosSafari = isIosSafari(navigator.userAgent, navigator.maxTouchPoints || 0);
  const show = () => {
    offer.hidden = !engaged || !offered || remembered(DISMISSED);
    steps.hidden = !engaged || !iosSafari || remembered(IOS_DISMISSED);
  };
  window.addEventListener('beforeinstallprompt', (event) => {
    event.preventDefault(); // the page's own button instead of the browser's mini-infobar
    offered = event;
    show();
  });
  afterFirstInput(() => {
    engaged = true;
    show();
  });
  offer.querySelector('[data-install]').addEventListener('click', async () => {
    const event = offered;
    offered = null;
    offer.hidden = true;
    if (!event) return;
    await event.prompt();
  });
  window.addEventListener('appinstalled', () => {
    offered = null;
    offer.hidden = true;
  });
  dismissible(offer, DISMISSED);
  dismissible(steps, IOS_DISMISSED);
}
