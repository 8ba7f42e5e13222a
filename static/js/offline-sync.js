/**
 * The offline copy's upkeep on signed-in pages (templates/pwa/context.html).
 *
 * - The copy stays fresh: the code list carries the vault's revision (`data-vault-revision`,
 *   refreshed with every htmx swap); when it differs from the copy's, a page that holds the
 *   sealer (unlocked with the PIN since it was loaded) re-fetches and re-seals at once, and
 *   any other asks for the PIN once, then keeps the sealer while it stays open.
 * - The copy goes when it may not stay: offline copies turned off by an administrator, or
 *   this device removed from another one. The server says so; the page deletes the copy.
 * - Sign-out deletes the copy after saying so (docs/offline-copy.md); an expired, locked or
 *   revoked session leaves it.
 * - Going offline on a live page offers the offline codes.
 *
 * Only a copy of the signed-in user's vault is touched: another user's copy on a shared
 * browser is theirs to forget.
 *
 * @module offline-sync
 */

import {
  CopyWipedError,
  ServerError,
  WrongPinError,
  checkCopy,
  passkeyUnlock,
  forgetCopy,
  readCopy,
  refreshCopy,
  reportEnded,
  unlockCopy,
  unlockCopyWithPasskey,
  wipeCopy,
} from './offline-copy.js';
import { recacheOfflinePage } from './pwa.js';

const $ = (id) => document.getElementById(id);

/** What this page knows of the copy; the sealer exists only once the PIN was entered here. */
const state = { api: '', userId: '', record: null, sealer: null, refreshing: Promise.resolve() };

function announce(message) {
  const toast = $('toast');
  if (!toast) return;
  toast.textContent = message;
  toast.classList.add('visible');
  setTimeout(() => toast.classList.remove('visible'), 2500);
}

/** Show the notice for why the copy was deleted: forbidden, gone or wiped. */
function tellDeleted(reason) {
  const notice = $('offline-notice');
  for (const line of notice.querySelectorAll('[data-reason]')) line.hidden = line.dataset.reason !== reason;
  notice.hidden = false;
}

async function deleteCopy(reason) {
  await wipeCopy();
  state.record = null;
  state.sealer = null;
  $('offline-stale').hidden = true;
  tellDeleted(reason);
}

/** Act on an error from the server: `gone` and `forbidden` mean the copy must go. */
async function handleServerError(err) {
  if (err instanceof ServerError && (err.code === 'gone' || err.code === 'forbidden')) {
    await deleteCopy(err.code);
    return true;
  }
  return false;
}

/** Ask for the PIN (or the passkey, when the copy has one) to bring the copy up to date. */
function showStale() {
  const form = $('offline-stale');
  form.querySelector('[data-passkey]').hidden = !(state.record && passkeyUnlock(state.record.blob));
  form.hidden = false;
}

/** Re-fetch and re-seal, one refresh at a time; ask for the PIN when there is no sealer. */
function bringUpToDate(revision) {
  state.refreshing = state.refreshing.then(async () => {
    if (!state.record || revision === state.record.revision) return;
    if (!state.sealer) {
      showStale();
      return;
    }
    try {
      state.record = (await refreshCopy(state.api, state.sealer)) ?? null;
    } catch (err) {
      if (!(await handleServerError(err))) showStale();
    }
  });
  return state.refreshing;
}

function initStalePrompt(context) {
  const form = $('offline-stale');
  const input = form.querySelector('input');
  const error = form.querySelector('.errors');
  form.querySelector('[data-dismiss]').addEventListener('click', () => {
    form.hidden = true;
  });
  /** Unlock with the PIN or the passkey, then refresh with the sealer that gives. */
  async function update(button, unlock) {
    button.disabled = true;
    error.textContent = '';
    try {
      const { sealer } = await unlock();
      state.sealer = sealer;
      state.record = (await refreshCopy(state.api, sealer)) ?? null;
      form.hidden = true;
      input.value = '';
      recacheOfflinePage();
      announce(context.dataset.updated);
    } catch (err) {
      if (err instanceof WrongPinError) {
        error.textContent = context.dataset.wrongPin.replace('{count}', String(err.remaining));
      } else if (unlock === unlockCopyWithPasskey && !(err instanceof ServerError)) {
        error.textContent = context.dataset.passkeyFailed;
      } else if (err instanceof CopyWipedError) {
        form.hidden = true;
        state.record = null;
        tellDeleted('wiped');
        reportEnded(state.api, state.userId).catch(() => {});
      } else if (!(await handleServerError(err))) {
        error.textContent = context.dataset.failed;
      }
    } finally {
      button.disabled = false;
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    update(form.querySelector('button[type="submit"]'), () => unlockCopy(input.value));
  });
  const passkey = form.querySelector('[data-passkey]');
  passkey.addEventListener('click', () => update(passkey, unlockCopyWithPasskey));
}

/** Sign-out deletes this user's copy, after a dialog that says so. */
function initSignOut(context) {
  const dialog = $('signout-dialog');
  let confirmed = null;
  document.addEventListener('submit', (event) => {
    const form = event.target;
    const isSignOut = new URL(form.action, window.location.href).pathname === context.dataset.logout;
    if (!isSignOut || !state.record) return;
    event.preventDefault();
    confirmed = form;
    dialog.showModal();
  });
  dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close());
  dialog.querySelector('[data-confirm]').addEventListener('click', async (event) => {
    event.target.disabled = true;
    await forgetCopy(state.api, 'signed-out').catch(() => wipeCopy());
    confirmed?.submit();
  });
}

function initConnection() {
  const banner = $('offline-connection');
  window.addEventListener('offline', () => {
    banner.querySelector('a').hidden = !state.record;
    banner.hidden = false;
  });
  window.addEventListener('online', () => {
    banner.hidden = true;
  });
}

/** The code list was swapped in (or the page loaded with it): compare the revisions. */
function watchCodeList() {
  document.body.addEventListener('htmx:afterSettle', () => {
    const list = $('codes');
    if (list?.dataset.vaultRevision) bringUpToDate(list.dataset.vaultRevision);
  });
}

export async function initOfflineSync() {
  const context = $('offline-context');
  if (!context) return;
  state.api = context.dataset.api;
  state.userId = context.dataset.user;
  $('offline-notice').querySelector('[data-dismiss]').addEventListener('click', (event) => {
    event.target.closest('.notice').hidden = true;
  });
  initStalePrompt(context);
  initSignOut(context);
  initConnection();
  watchCodeList();
  if (document.getElementById('offline-settings')) {
    const { initOfflineSettings } = await import('./offline-settings.js');
    initOfflineSettings({ api: state.api, userId: state.userId });
  }
  const record = await readCopy().catch(() => null);
  await reportEnded(state.api, state.userId).catch(() => {});
  if (!record || String(record.owner?.id) !== state.userId) return;
  state.record = record;
  if (context.dataset.allowed !== '1') {
    await deleteCopy('forbidden');
    return;
  }
  try {
    const { revision } = await checkCopy(state.api, record);
    await bringUpToDate(revision);
  } catch (err) {
    await handleServerError(err); // offline or signed out: keep the copy as it is
  }
}
