/**
 * The offline page (templates/offline.html): the service worker serves it when a page cannot
 * be fetched. It asks for the PIN, opens the copy and shows the codes, computed here.
 *
 * The page is one of a few states, each a section of the template shown alone: no copy on
 * this device, locked, unlocked, deleted after too many wrong PINs, or unreadable. A copy
 * that a passkey opens too offers the passkey first (offline-passkey.js: no network needed). All
 * wording comes from the template, translated, so this module holds no user-facing text.
 * Unlocking is timed with the User Timing API (`offline-unlock`, from the PIN's submission, or
 * the passkey's answer, to the first code on screen), which bench/offline_unlock.py reads.
 *
 * @module offline-page
 */

import { copyCode } from './codes.js';
import {
  CopyWipedError,
  PrfUnavailableError,
  WrongPasskeyError,
  WrongPinError,
  passkeyUnlock,
  readCopy,
  unlockCopy,
  unlockCopyWithPasskey,
} from './offline-copy.js';
import { CodeList } from './offline-list.js';
import { initPwa } from './pwa.js';

const STATES = ['none', 'locked', 'unlocked', 'wiped', 'unreadable'];

const $ = (id) => document.getElementById(id);

function showState(state) {
  for (const name of STATES) $(`offline-${name}`).hidden = name !== state;
}

function formatDate(ms) {
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(ms);
}

/** Fill `{name}`-style placeholders of a translated template from the page. */
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
}

function describeCopy(root, record) {
  const text = fill(root.dataset.copyOf, { name: record.owner?.name ?? '', date: formatDate(record.saved_ms) });
  for (const element of document.querySelectorAll('.offline-copy-of')) element.textContent = text;
}

/**
 * The locked state: the passkey first where the copy has one, then the PIN field, with a
 * number pad when the PIN was all digits.
 */
function lock(record) {
  const input = $('offline-pin');
  input.value = '';
  input.inputMode = record.pin_kind === 'digits' ? 'numeric' : 'text';
  $('offline-pin-error').textContent = '';
  const passkey = $('offline-passkey-unlock');
  passkey.hidden = !(passkeyUnlock(record.blob) && globalThis.PublicKeyCredential);
  passkey.querySelector('.errors').textContent = '';
  showState('locked');
  (passkey.hidden ? input : passkey.querySelector('button')).focus();
}

/** Show the unlocked copy; resolves once every code is on screen. */
async function showUnlocked(root, list, vault, record) {
  $('offline-search').value = '';
  $('offline-no-match').hidden = true;
  $('offline-empty').hidden = vault.accounts.length > 0;
  describeCopy(root, record);
  await list.show(vault);
  showState('unlocked');
  performance.measure('offline-unlock', 'offline-unlock-start');
}

function initPasskeyUnlock(root, list) {
  const section = $('offline-passkey-unlock');
  const button = section.querySelector('button');
  const error = section.querySelector('.errors');
  button.addEventListener('click', async () => {
    button.disabled = true;
    error.textContent = '';
    try {
      const { vault, record } = await unlockCopyWithPasskey();
      performance.mark('offline-unlock-start');
      await showUnlocked(root, list, vault, record);
    } catch (err) {
      if (err instanceof CopyWipedError) {
        showState('none');
      } else if (err instanceof WrongPasskeyError || err instanceof PrfUnavailableError) {
        error.textContent = root.dataset.passkeyFailed;
      } else {
        error.textContent = root.dataset.passkeyCancelled;
      }
    } finally {
      button.disabled = false;
    }
  });
}

function initUnlock(root, list) {
  const form = $('offline-unlock-form');
  const input = $('offline-pin');
  const error = $('offline-pin-error');
  const button = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!input.value) {
      error.textContent = root.dataset.pinRequired;
      return;
    }
    performance.mark('offline-unlock-start');
    button.disabled = true;
    error.textContent = '';
    try {
      const { vault, record } = await unlockCopy(input.value);
      input.value = '';
      await showUnlocked(root, list, vault, record);
    } catch (err) {
      if (err instanceof WrongPinError) {
        error.textContent = fill(root.dataset.wrongPin, { count: err.remaining });
        input.select();
      } else if (err instanceof CopyWipedError) {
        showState('wiped');
      } else {
        showState('unreadable');
      }
    } finally {
      button.disabled = false;
    }
  });
}

function initUnlocked(list, record) {
  const search = $('offline-search');
  search.addEventListener('input', () => {
    $('offline-no-match').hidden = list.filter(search.value) > 0 || !list.entries.length;
  });
  $('offline-lock').addEventListener('click', () => {
    list.stop();
    lock(record);
  });
  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-copy]');
    if (button && button.dataset.copy) copyCode(button);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') list.resync();
  });
}

/** Back online, the live list is one tap away (the server may still be unreachable, so no reload). */
function initConnection() {
  const banner = $('offline-back-online');
  window.addEventListener('online', () => {
    banner.hidden = false;
  });
  window.addEventListener('offline', () => {
    banner.hidden = true;
  });
}

async function init() {
  document.documentElement.classList.add('js');
  initPwa();
  initConnection();
  const root = $('offline-app');
  const record = await readCopy().catch(() => null);
  if (!record) {
    showState('none');
    return;
  }
  describeCopy(root, record);
  const list = new CodeList($('offline-accounts'), $('offline-account'), root.dataset.copyLabel, $('offline-countdown'));
  initUnlock(root, list);
  initPasskeyUnlock(root, list);
  initUnlocked(list, record);
  lock(record);
}

init();
