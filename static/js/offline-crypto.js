/**
 * The offline copy's encryption: a vault sealed under a PIN the server never sees.
 *
 * The installed app keeps this blob in IndexedDB so it can show codes with no network.
 * A key is derived from the PIN with PBKDF2-SHA256 and the vault JSON is sealed with
 * AES-256-GCM; the blob's version and KDF parameters are bound as associated data so they
 * cannot be edited without the PIN. The format is documented in docs/offline-blob.md and
 * read back in Python by tests/support/offline_blob.py (the test suite proves the two agree).
 * WebCrypto only (`globalThis.crypto`), no DOM, so the same file runs in the page and
 * under Node for the tests.
 *
 * @module offline-crypto
 */

export const BLOB_FORMAT = 'webauth-offline';
export const BLOB_VERSION = 1;
export const KDF_NAME = 'PBKDF2-SHA256';
export const CIPHER_NAME = 'AES-256-GCM';
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; also the floor, so no blob is weaker. */
export const DEFAULT_ITERATIONS = 600_000;
export const MIN_ITERATIONS = 600_000;
/** A ceiling, so an altered blob cannot make the app derive keys for minutes. */
export const MAX_ITERATIONS = 10_000_000;
/**
 * Anyone holding the blob can try PINs offline, and a 4-digit PIN falls within a second on
 * one GPU even at 600,000 iterations. Six is a floor, not a safe length: the page should
 * encourage a longer PIN or a passphrase.
 */
export const MIN_PIN_LENGTH = 6;

const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The PIN does not open the blob, or the blob was altered: AES-GCM cannot tell which. */
export class WrongPinError extends Error {
  constructor() {
    super('wrong PIN, or the offline copy was altered');
    this.name = 'WrongPinError';
  }
}

/** The blob is not one this version can read (missing fields, unknown version, bad encoding). */
export class BlobFormatError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(`offline copy: ${message}`);
    this.name = 'BlobFormatError';
  }
}

/**
 * Standard base64 with padding, the encoding Python's `base64.b64decode` reads. Built in
 * chunks because spreading a large vault into `String.fromCharCode` overflows the stack.
 *
 * @param {Uint8Array} bytes
 * @returns {string}
 */
function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Strict base64 decoding: `atob` alone skips whitespace and missing padding, which the
 * Python reader refuses, and both readers must accept exactly the same blobs.
 *
 * @param {unknown} text
 * @param {string} field for the error message
 * @returns {Uint8Array}
 */
function fromBase64(text, field) {
  if (typeof text !== 'string' || !BASE64.test(text)) {
    throw new BlobFormatError(`${field} is not base64`);
  }
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/**
 * AES-GCM parameters with the associated data: every blob field that is not itself an
 * input of AES-GCM, in a fixed order, so that changing the version, the KDF or its
 * parameters makes decryption fail.
 *
 * @param {Uint8Array} nonce
 * @param {number} iterations
 * @param {string} salt base64, as stored in the blob
 * @returns {AesGcmParams}
 */
function gcmParams(nonce, iterations, salt) {
  const aad = [BLOB_FORMAT, BLOB_VERSION, KDF_NAME, iterations, salt, CIPHER_NAME].join('|');
  return { name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(aad), tagLength: TAG_BYTES * 8 };
}

/**
 * @param {string} pin NFC-normalised first, so the same PIN typed on another keyboard
 *   (composed or decomposed accents) derives the same key
 * @param {Uint8Array} salt
 * @param {number} iterations
 * @returns {Promise<CryptoKey>}
 */
async function deriveKey(pin, salt, iterations) {
  const subtle = globalThis.crypto.subtle;
  const password = new TextEncoder().encode(pin.normalize('NFC'));
  const material = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** @param {unknown} value */
function isPlainObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @param {unknown} iterations
 * @returns {iterations is number}
 */
function iterationsInRange(iterations) {
  return Number.isInteger(iterations) && iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS;
}

/**
 * A key derived from a PIN, with the salt and iteration count it was derived with: what
 * re-sealing needs. The key is a non-extractable CryptoKey, so a page can keep a sealer in
 * memory while the app is unlocked and re-seal the copy after a change without keeping the
 * PIN itself, and no script can read the key's bytes out of it.
 *
 * @typedef {{key: CryptoKey, salt: string, iterations: number}} Sealer
 */

/**
 * Derive a sealer for a new PIN, with a fresh salt.
 *
 * @param {string} pin at least MIN_PIN_LENGTH characters
 * @param {{iterations?: number}} [options] PBKDF2 iterations, MIN_ITERATIONS..MAX_ITERATIONS
 * @returns {Promise<Sealer>}
 * @throws {RangeError} on a short PIN or bad iterations
 */
export async function createSealer(pin, { iterations = DEFAULT_ITERATIONS } = {}) {
  if (typeof pin !== 'string' || [...pin.normalize('NFC')].length < MIN_PIN_LENGTH) {
    throw new RangeError(`the PIN must have at least ${MIN_PIN_LENGTH} characters`);
  }
  if (!iterationsInRange(iterations)) {
    throw new RangeError(`iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return Object.freeze({ key: await deriveKey(pin, salt, iterations), salt: toBase64(salt), iterations });
}

/**
 * Seal a vault with a sealer: a fresh nonce each time, so one sealer may seal many versions
 * of the vault (random 96-bit nonces stay safe far beyond any number of edits).
 *
 * @param {Sealer} sealer from `createSealer` or `unlockVault`
 * @param {object} vault the vault JSON of docs/offline-blob.md (any JSON object is sealed)
 * @returns {Promise<{format: string, version: number,
 *   kdf: {name: string, iterations: number, salt: string},
 *   cipher: {name: string, nonce: string}, ciphertext: string}>} plain JSON, for IndexedDB
 * @throws {TypeError} on a vault that is not an object
 */
export async function sealWith(sealer, vault) {
  if (!isPlainObject(vault)) {
    throw new TypeError('the vault must be a JSON object');
  }
  const { key, salt, iterations } = sealer;
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = await globalThis.crypto.subtle.encrypt(
    gcmParams(nonce, iterations, salt),
    key,
    new TextEncoder().encode(JSON.stringify(vault)),
  );
  return {
    format: BLOB_FORMAT,
    version: BLOB_VERSION,
    kdf: { name: KDF_NAME, iterations, salt },
    cipher: { name: CIPHER_NAME, nonce: toBase64(nonce) },
    ciphertext: toBase64(new Uint8Array(sealed)),
  };
}

/**
 * Seal a vault under a PIN. Each call draws a fresh salt and nonce, so sealing the same
 * vault twice gives unrelated blobs.
 *
 * @param {object} vault the vault JSON of docs/offline-blob.md (any JSON object is sealed)
 * @param {string} pin at least MIN_PIN_LENGTH characters
 * @param {{iterations?: number}} [options] PBKDF2 iterations, MIN_ITERATIONS..MAX_ITERATIONS
 * @returns {ReturnType<typeof sealWith>} plain JSON, for IndexedDB
 * @throws {TypeError|RangeError} on a vault that is not an object, a short PIN or bad iterations
 */
export async function sealVault(vault, pin, options = {}) {
  if (!isPlainObject(vault)) {
    throw new TypeError('the vault must be a JSON object');
  }
  return sealWith(await createSealer(pin, options), vault);
}

/**
 * Open a blob made by `sealVault` (or anything following docs/offline-blob.md).
 *
 * @param {unknown} blob as returned by `sealVault`, or parsed back from JSON
 * @param {string} pin
 * @returns {Promise<object>} the vault
 * @throws {WrongPinError} when the PIN is wrong or a sealed byte was altered
 * @throws {BlobFormatError} when the blob is not a version-1 offline copy
 */
export async function openVault(blob, pin) {
  return (await unlockVault(blob, pin)).vault;
}

/**
 * Open a blob and keep what re-sealing needs: the vault and a sealer with the blob's own
 * salt and iterations, so the same PIN keeps opening every blob sealed with it.
 *
 * The blob's shape is checked before any key is derived, so a damaged or foreign blob
 * reports a format error at once instead of a misleading "wrong PIN".
 *
 * @param {unknown} blob as returned by `sealVault` or `sealWith`, or parsed back from JSON
 * @param {string} pin
 * @returns {Promise<{vault: object, sealer: Sealer}>}
 * @throws {WrongPinError} when the PIN is wrong or a sealed byte was altered
 * @throws {BlobFormatError} when the blob is not a version-1 offline copy
 */
export async function unlockVault(blob, pin) {
  if (!isPlainObject(blob) || blob.format !== BLOB_FORMAT) {
    throw new BlobFormatError('not a webauth offline copy');
  }
  if (blob.version !== BLOB_VERSION) {
    throw new BlobFormatError(`version ${JSON.stringify(blob.version)} is not supported (expected ${BLOB_VERSION})`);
  }
  const { kdf, cipher } = blob;
  if (!isPlainObject(kdf) || kdf.name !== KDF_NAME) {
    throw new BlobFormatError(`kdf must be ${KDF_NAME}`);
  }
  if (!iterationsInRange(kdf.iterations)) {
    throw new BlobFormatError(`kdf.iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  if (!isPlainObject(cipher) || cipher.name !== CIPHER_NAME) {
    throw new BlobFormatError(`cipher must be ${CIPHER_NAME}`);
  }
  const salt = fromBase64(kdf.salt, 'kdf.salt');
  const nonce = fromBase64(cipher.nonce, 'cipher.nonce');
  const ciphertext = fromBase64(blob.ciphertext, 'ciphertext');
  if (salt.length !== SALT_BYTES || nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES) {
    throw new BlobFormatError(
      `salt must be ${SALT_BYTES} bytes, nonce ${NONCE_BYTES}, ciphertext at least ${TAG_BYTES}`,
    );
  }
  if (typeof pin !== 'string') {
    throw new TypeError('the PIN must be a string');
  }
  const key = await deriveKey(pin, salt, kdf.iterations);
  let plaintext;
  try {
    plaintext = await globalThis.crypto.subtle.decrypt(gcmParams(nonce, kdf.iterations, kdf.salt), key, ciphertext);
  } catch (err) {
    // WebCrypto reports a failed tag check as an OperationError DOMException, nothing more.
    if (err?.name === 'OperationError') {
      throw new WrongPinError();
    }
    throw err;
  }
  const vault = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  if (!isPlainObject(vault)) {
    throw new BlobFormatError('the sealed content is not a JSON object');
  }
  return { vault, sealer: Object.freeze({ key, salt: kdf.salt, iterations: kdf.iterations }) };
}
