/**
 * The offline copy's settings page (templates/pwa/offline_settings.html): this device's
 * state, turning the copy on with a PIN, and "Forget this device".
 *
 * The server renders what it decides (whether the password must be entered again, the list
 * of devices); this module adds what only the browser knows: whether this device holds a
 * copy, and whose. All wording is in the template.
 *
 * @module offline-settings
 */

import {
  PRF_INPUT_BYTES,
  PrfUnavailableError,
  ServerError,
  enableCopy,
  forgetCopy,
  pinProblem,
  readCopy,
  wipeCopy,
} from './offline-copy.js';
import { evaluatePrf, prfMaybeSupported } from './offline-passkey.js';
import { recacheOfflinePage } from './pwa.js';

const $ = (id) => document.getElementById(id);

/** The template's data-* attribute naming each `pinProblem`. */
const PIN_MESSAGES = { short: 'pinShort', simple: 'pinSimple', mismatch: 'pinMismatch' };

function formatDate(ms) {
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(ms);
}

/** Show one of the device sections: on (this user's copy), other (someone else's), none. */
function showDevice(state) {
  for (const name of ['on', 'other', 'none']) {
    const section = $(`offline-device-${name}`);
    if (section) section.hidden = name !== state;
  }
}

/** In the list of devices, mark this one; it is forgotten here, not removed from afar. */
function markThisDevice(deviceId) {
  const row = document.querySelector(`[data-device="${CSS.escape(deviceId)}"]`);
  if (!row) return;
  row.querySelector('.offline-this-device').hidden = false;
  row.querySelector('form')?.remove();
}

/**
 * One of the user's passkeys evaluates its PRF at a fresh random input: the output wraps the
 * copy's key beside the PIN's (offline-crypto.js, version 2); the input goes into the copy.
 */
async function askPasskey(root) {
  const prfInput = globalThis.crypto.getRandomValues(new Uint8Array(PRF_INPUT_BYTES));
  const { credential, prfOutput } = await evaluatePrf({
    rpId: root.dataset.rpId,
    credentials: JSON.parse(root.dataset.passkeys || '[]'),
    prfInput,
  });
  return { credential, rpId: root.dataset.rpId, prfInput, prfOutput };
}

/** "Unlock with a passkey too", where the user has a passkey and the browser may have PRF. */
async function offerPasskey() {
  const field = $('offline-passkey-field');
  if (field) field.hidden = !(await prfMaybeSupported());
}

function initEnable(root, api) {
  const form = $('offline-enable-form');
  if (!form) return;
  offerPasskey();
  const error = $('offline-enable-error');
  const button = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const pin = form.elements.pin.value;
    const problem = pinProblem(pin, form.elements.repeat.value);
    if (problem) {
      error.textContent = root.dataset[PIN_MESSAGES[problem]];
      (problem === 'mismatch' ? form.elements.repeat : form.elements.pin).focus();
      return;
    }
    button.disabled = true;
    let passkey;
    if (form.elements.passkey?.checked && !$('offline-passkey-field').hidden) {
      try {
        passkey = await askPasskey(root);
      } catch (err) {
        error.textContent = err instanceof PrfUnavailableError ? root.dataset.passkeyUnavailable : root.dataset.passkeyCancelled;
        button.disabled = false;
        return;
      }
    }
    error.textContent = root.dataset.working;
    try {
      await enableCopy(api, pin, passkey);
      recacheOfflinePage();
      window.location.reload();
    } catch (err) {
      button.disabled = false;
      if (err instanceof ServerError && err.code === 'reauth') {
        window.location.reload(); // the page then asks for the password
      } else if (err instanceof ServerError && err.message) {
        error.textContent = err.message;
      } else {
        error.textContent = root.dataset.failed;
      }
    }
  });
}

/** "Forget this device", in two steps so that one stray tap deletes nothing. */
function initForget(section, forget) {
  if (!section) return;
  const confirm = section.querySelector('.offline-forget-confirm');
  section.querySelector('[data-forget]').addEventListener('click', () => {
    confirm.hidden = false;
    confirm.querySelector('[data-confirm]').focus();
  });
  confirm.querySelector('[data-cancel]').addEventListener('click', () => {
    confirm.hidden = true;
  });
  confirm.querySelector('[data-confirm]').addEventListener('click', async (event) => {
    event.target.disabled = true;
    await forget();
    window.location.reload();
  });
}

async function notePersistence() {
  const note = $('offline-persist-note');
  if (note && navigator.storage?.persisted) note.hidden = await navigator.storage.persisted();
}

/**
 * @param {{api: string, userId: string}} options from the page's offline context
 */
export async function initOfflineSettings({ api, userId }) {
  const root = $('offline-settings');
  const record = await readCopy().catch(() => null);
  if (record && String(record.owner?.id) === userId) {
    showDevice('on');
    const saved = $('offline-saved');
    saved.textContent = saved.dataset.text.replace('{date}', formatDate(record.saved_ms));
    markThisDevice(record.device.id);
    notePersistence();
  } else {
    showDevice(record ? 'other' : 'none');
  }
  initEnable(root, api);
  initForget($('offline-device-on'), () => forgetCopy(api, 'forgotten').catch(() => wipeCopy()));
  initForget($('offline-device-other'), () => wipeCopy('forgotten'));
}
