/**
 * Passkeys in the page: signing in (a button, and the browser's autofill where it offers
 * passkeys), adding one on the account page, and confirming it is you.
 *
 * Each ceremony is the same three steps: ask the server for options (a challenge it keeps,
 * webauth/views/passkeys.py), let the browser ask the authenticator (@simplewebauthn/browser,
 * vendored by scripts/vendor.sh), post the answer back. The server checks everything; this
 * module only carries and says what happened, with the words the template gives it.
 *
 * @module passkeys
 */

import {
  WebAuthnAbortService,
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
} from '../vendor/simplewebauthn/index.js';

/**
 * Autofill waits on the browser for as long as the page is open, and the server's challenge
 * lives two minutes: a request older than this is renewed when the username field is focused.
 */
const AUTOFILL_RENEW_MS = 90_000;

/** The server said no; `code` is its `error` field (reauth, expired, counter...). */
class ServerError extends Error {
  constructor(status, data) {
    super(data.message || `HTTP ${status}`);
    this.name = 'ServerError';
    this.status = status;
    this.code = data.error;
    this.location = data.location;
  }
}

/** The CSRF token the page carries for htmx (`hx-headers` on the body). */
function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || '';
  } catch {
    return '';
  }
}

async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
    body: JSON.stringify(body ?? {}),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'manual',
  });
  if (response.type === 'opaqueredirect') {
    // The session ended meanwhile (the sign-in page): reloading shows it, with the way back.
    window.location.reload();
    throw new ServerError(401, { error: 'signed-out' });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ServerError(response.status, data);
  return data;
}

/**
 * Go to `url`; when only its fragment differs from this page's, that takes a reload. `replace`
 * puts it in this page's place in the history (after "Confirm it is you", so that Back skips it).
 */
function go(url, replace = false) {
  const target = new URL(url, window.location.href);
  const here = window.location;
  if (target.pathname === here.pathname && target.search === here.search) {
    here.hash = target.hash;
    here.reload();
  } else if (replace) {
    here.replace(target.href);
  } else {
    here.assign(target.href);
  }
}

/** The words for what went wrong: the server's own, or the template's for the browser's errors. */
function explain(root, err) {
  if (err instanceof ServerError && err.message) return err.message;
  if (err?.name === 'NotAllowedError' || err?.name === 'AbortError') return root.dataset.cancelled;
  if (err?.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return root.dataset.exists || root.dataset.failed;
  return root.dataset.failed;
}

function isAbort(err) {
  return err?.name === 'AbortError' || err?.code === 'ERROR_CEREMONY_ABORTED';
}

// Signing in ---------------------------------------------------------------------------------

function initSignIn(root) {
  const button = root.querySelector('button');
  const error = root.querySelector('.errors');
  const field = document.querySelector('input[autocomplete~="webauthn"]');
  let autofillStartedAt = 0;

  async function finish(credential) {
    const { redirect } = await post(root.dataset.verify, { credential });
    go(redirect);
  }

  /** The browser's autofill offers passkeys beside saved passwords, while the page is open. */
  async function autofill() {
    autofillStartedAt = Date.now();
    try {
      const options = await post(root.dataset.options);
      const credential = await startAuthentication({ optionsJSON: options, useBrowserAutofill: true });
      await finish(credential);
    } catch (err) {
      if (isAbort(err)) return; // renewed, or the button took over
      error.textContent = explain(root, err);
      autofillStartedAt = 0;
    }
  }

  function renewAutofill() {
    if (Date.now() - autofillStartedAt < AUTOFILL_RENEW_MS) return;
    WebAuthnAbortService.cancelCeremony();
    autofill();
  }

  button.addEventListener('click', async () => {
    button.disabled = true;
    error.textContent = '';
    try {
      const options = await post(root.dataset.options);
      await finish(await startAuthentication({ optionsJSON: options }));
    } catch (err) {
      error.textContent = explain(root, err);
      button.disabled = false;
      autofillStartedAt = 0; // the button's request replaced the autofill's: offer it again
      if (field) renewAutofill();
    }
  });

  browserSupportsWebAuthnAutofill().then((supported) => {
    if (!supported || !field) return;
    field.addEventListener('focus', renewAutofill);
    autofill();
  });
}

// Adding a passkey ---------------------------------------------------------------------------

function initAdd(form) {
  const error = form.querySelector('.errors');
  const button = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = '';
    try {
      const options = await post(form.dataset.options);
      // credProps says whether a discoverable credential was made; prf asks the authenticator
      // to turn on what the offline copy's passkey unlock needs (hmac-secret), where it can.
      options.extensions = { ...options.extensions, credProps: true, prf: {} };
      const credential = await startRegistration({ optionsJSON: options });
      const { redirect } = await post(form.dataset.register, { credential, name: form.elements.name.value });
      go(redirect);
    } catch (err) {
      if (err instanceof ServerError && err.code === 'reauth' && err.location) {
        go(err.location);
        return;
      }
      error.textContent = explain(form, err);
      button.disabled = false;
    }
  });
}

// Confirming it is you -----------------------------------------------------------------------

function initReauth(root) {
  const button = root.querySelector('button');
  const error = root.querySelector('.errors');
  button.addEventListener('click', async () => {
    button.disabled = true;
    error.textContent = '';
    try {
      const options = await post(root.dataset.options);
      const credential = await startAuthentication({ optionsJSON: options });
      const { redirect } = await post(root.dataset.verify, { credential });
      go(redirect, true);
    } catch (err) {
      error.textContent = explain(root, err);
      button.disabled = false;
    }
  });
}

/** A page opened by an IP address: WebAuthn needs a host name for the relying party. */
function openedByAddress() {
  const host = window.location.hostname;
  return /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[');
}

/**
 * Wire whichever passkey parts this page has. They stay hidden where passkeys cannot work:
 * a browser without WebAuthn, or the site opened by its IP address.
 */
export function initPasskeys() {
  const signIn = document.getElementById('passkey-signin');
  const add = document.getElementById('passkey-add');
  const reauth = document.querySelectorAll('[data-passkey-reauth]');
  if (!browserSupportsWebAuthn() || openedByAddress()) {
    for (const note of document.querySelectorAll('.passkey-unsupported')) note.hidden = false;
    return;
  }
  if (signIn) {
    signIn.hidden = false;
    initSignIn(signIn);
  }
  if (add) {
    add.hidden = false;
    initAdd(add);
  }
  for (const root of reauth) {
    root.hidden = false;
    initReauth(root);
  }
}
