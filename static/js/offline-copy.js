/**
 * The offline copy's life on a device: turn it on, unlock it, refresh it, forget it.
 *
 * The server hands the vault over as JSON (webauth/views/offline.py); this module seals it
 * under the PIN with offline-crypto.js and keeps it with offline-store.js. The PIN is never
 * stored or sent. After unlocking, callers keep the returned sealer (a non-extractable key)
 * in memory to re-seal after changes, and drop it when the page goes away.
 *
 * @module offline-copy
 */

import {
  MIN_PIN_LENGTH,
  PRF_INPUT_BYTES,
  WrongPasskeyError,
  WrongPinError,
  createSealer,
  passkeyUnlock,
  sealWith,
  unlockVault,
  unlockVaultWithPasskey,
} from './offline-crypto.js';
import { PrfUnavailableError, evaluatePrf } from './offline-passkey.js';
import { clearEnded, readCopy, readEnded, updateCopy, wipeCopy, writeCopy } from './offline-store.js';

export { MIN_PIN_LENGTH, PRF_INPUT_BYTES, PrfUnavailableError, WrongPasskeyError, WrongPinError, passkeyUnlock };

const TOKEN_HEADER = 'X-Offline-Token';

/** The copy was deleted because too many wrong PINs were entered in a row. */
export class CopyWipedError extends Error {
  constructor() {
    super('the offline copy was deleted after too many wrong PINs');
    this.name = 'CopyWipedError';
  }
}

/** The server answered with an error; `code` is its `error` field (reauth, forbidden, gone). */
export class ServerError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message the server's own, translated explanation
   */
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.name = 'ServerError';
    this.status = status;
    this.code = code;
  }
}

/** The request was sent to the sign-in page: the session ended, and nothing can be done now. */
export class SignedOutError extends Error {
  constructor() {
    super('signed out');
    this.name = 'SignedOutError';
  }
}

/**
 * What is wrong with a new PIN, or null. Six characters is the floor the crypto module sets;
 * a run like 123456 or 111111 is among the first any guesser tries, so it is refused too.
 *
 * @param {string} pin
 * @param {string} repeat the same PIN typed again
 * @returns {null|'short'|'simple'|'mismatch'}
 */
export function pinProblem(pin, repeat) {
  const chars = [...pin.normalize('NFC')];
  if (chars.length < MIN_PIN_LENGTH) return 'short';
  const steps = new Set(chars.slice(1).map((ch, i) => ch.codePointAt(0) - chars[i].codePointAt(0)));
  if (steps.size === 1 && [...steps].every((step) => Math.abs(step) <= 1)) return 'simple';
  if (pin !== repeat) return 'mismatch';
  return null;
}

/** The CSRF token the page carries for htmx (`hx-headers` on the body). */
function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || '';
  } catch {
    return '';
  }
}

/**
 * One JSON call to the server. Redirects are not followed: a redirect means the session
 * ended (the sign-in page), which must not be mistaken for an answer.
 *
 * @returns {Promise<{data: any, midpointMs: number}>} the answer and the moment, by this
 *   device's clock, halfway between sending and receiving, for measuring the clock offset
 */
async function call(method, url, { token, body } = {}) {
  const headers = { Accept: 'application/json', 'X-CSRFToken': csrfToken() };
  if (token) headers[TOKEN_HEADER] = token;
  if (body) headers['Content-Type'] = 'application/json';
  const sentMs = Date.now();
  const response = await fetch(url, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'manual',
  });
  const midpointMs = (sentMs + Date.now()) / 2;
  if (response.type === 'opaqueredirect') throw new SignedOutError();
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ServerError(response.status, data.error, data.message);
  return { data, midpointMs };
}

/** The vault with the server clock's offset from this device's, measured on this answer. */
function withClockOffset(vault, midpointMs) {
  return { ...vault, server_offset_ms: Math.round(vault.created_ms - midpointMs) };
}

/** @param {import('./offline-store.js').CopyRecord} record */
function deviceUrl(api, record, suffix = '') {
  return `${api}/${encodeURIComponent(record.device.id)}${suffix}`;
}

/**
 * Turn the copy on for this device: the server records the device (it needs a fresh
 * password entry) and sends the vault, which is sealed under the PIN (and, given `passkey`,
 * so that the passkey opens it too) and stored. The key derivation runs while the request
 * is in flight.
 *
 * @param {string} api the devices endpoint, `/offline/devices`
 * @param {string} pin checked with `pinProblem` first
 * @param {import('./offline-crypto.js').PasskeyPrf} [passkey] the passkey and its PRF output
 * @returns {Promise<import('./offline-crypto.js').Sealer>} for refreshing while the page lives
 */
export async function enableCopy(api, pin, passkey) {
  const [sealer, { data, midpointMs }] = await Promise.all([createSealer(pin, { passkey }), call('POST', api)]);
  await writeCopy({
    blob: await sealWith(sealer, withClockOffset(data.vault, midpointMs)),
    revision: data.revision,
    device: { id: data.device, token: data.token },
    owner: data.owner,
    pin_kind: /^\d+$/.test(pin) ? 'digits' : 'text',
    max_attempts: data.max_pin_attempts,
    failed_attempts: 0,
    saved_ms: Date.now(),
  });
  // Ask the browser not to evict the copy under storage pressure; it may say no.
  await navigator.storage?.persist?.().catch(() => false);
  return sealer;
}

/**
 * Try a PIN. The attempt is counted before the key is derived, so closing the page during
 * the derivation still counts it; a right PIN resets the count, and the last allowed wrong
 * one deletes the copy.
 *
 * @returns {Promise<{vault: object, sealer: import('./offline-crypto.js').Sealer,
 *   record: import('./offline-store.js').CopyRecord}>}
 * @throws {WrongPinError} with `remaining`, the attempts left
 * @throws {CopyWipedError} when this was the last attempt
 */
export async function unlockCopy(pin) {
  const record = await updateCopy((stored) => ({ ...stored, failed_attempts: stored.failed_attempts + 1 }));
  if (!record) throw new CopyWipedError();
  try {
    const { vault, sealer } = await unlockVault(record.blob, pin);
    const reset = await updateCopy((stored) => ({ ...stored, failed_attempts: 0 }));
    return { vault, sealer, record: reset ?? record };
  } catch (err) {
    if (!(err instanceof WrongPinError)) throw err;
    if (record.failed_attempts >= record.max_attempts) {
      await wipeCopy('wrong-pin');
      throw new CopyWipedError();
    }
    err.remaining = record.max_attempts - record.failed_attempts;
    throw err;
  }
}

/**
 * Open the copy with its passkey: the authenticator (after verifying the person) gives its
 * PRF output for the blob's `prf_input`, which unwraps the vault key. No network needed.
 * Not counted against the PIN's attempts: nothing is guessed here.
 *
 * @returns {Promise<{vault: object, sealer: import('./offline-crypto.js').PasskeySealer,
 *   record: import('./offline-store.js').CopyRecord}>}
 * @throws {WrongPasskeyError} when the answer does not open the copy (or it has no passkey)
 * @throws {PrfUnavailableError} when the authenticator gave no PRF output
 * @throws {CopyWipedError} when there is no copy any more
 */
export async function unlockCopyWithPasskey() {
  const record = await readCopy();
  if (!record) throw new CopyWipedError();
  const request = passkeyUnlock(record.blob);
  if (!request) throw new WrongPasskeyError();
  const { prfOutput } = await evaluatePrf({
    rpId: request.rpId,
    credentials: [request.credential],
    prfInput: request.prfInput,
  });
  const { vault, sealer } = await unlockVaultWithPasskey(record.blob, prfOutput);
  return { vault, sealer, record };
}

/**
 * Fetch the vault again and re-seal it with the sealer kept since unlocking.
 *
 * @param {string} api
 * @param {import('./offline-crypto.js').Sealer} sealer
 * @returns {Promise<import('./offline-store.js').CopyRecord|null>} the stored record
 * @throws {ServerError} `gone` or `forbidden` when the copy may not stay (see `checkCopy`)
 */
export async function refreshCopy(api, sealer) {
  const record = await readCopy();
  if (!record) return null;
  const { data, midpointMs } = await call('POST', deviceUrl(api, record, '/vault'), { token: record.device.token });
  const blob = await sealWith(sealer, withClockOffset(data.vault, midpointMs));
  return updateCopy((stored) =>
    stored.device.id === record.device.id
      ? { ...stored, blob, revision: data.revision, max_attempts: data.max_pin_attempts, saved_ms: Date.now() }
      : stored,
  );
}

/**
 * Ask the server whether this device may keep its copy, and which revision it should hold.
 *
 * @returns {Promise<{revision: string, max_pin_attempts: number}>}
 * @throws {ServerError} `gone` (the device was removed or forgotten) or `forbidden` (offline
 *   copies are turned off): the caller deletes the copy
 */
export async function checkCopy(api, record) {
  const { data } = await call('GET', deviceUrl(api, record), { token: record.device.token });
  if (data.max_pin_attempts !== record.max_attempts) {
    await updateCopy((stored) => ({ ...stored, max_attempts: data.max_pin_attempts }));
  }
  return data;
}

/** Tell the server about a copy wiped earlier without it (see `wipeCopy` in offline-store). */
export async function reportEnded(api, userId) {
  const ended = await readEnded();
  if (!ended || String(ended.owner?.id) !== String(userId)) return;
  try {
    await call('DELETE', deviceUrl(api, ended), { token: ended.device.token, body: { reason: ended.reason } });
  } catch (err) {
    if (!(err instanceof ServerError && err.code === 'gone')) return; // try again next time
  }
  await clearEnded();
}

/**
 * Delete the copy from this device at once, then tell the server; if the server cannot be
 * reached, a note makes a later page tell it.
 *
 * @param {string} api
 * @param {'forgotten'|'signed-out'} reason
 */
export async function forgetCopy(api, reason) {
  const record = await wipeCopy(reason);
  if (record) await reportEnded(api, record.owner.id);
}

export { readCopy, wipeCopy };
