/**
 * The offline copy's encryption: a vault sealed under a PIN the server never sees.
 *
 * The installed app keeps this blob in IndexedDB so it can show codes with no network.
 * Version 1 (the PIN alone): a key is derived from the PIN with PBKDF2-SHA256 and the vault
 * JSON is sealed with AES-256-GCM; the blob's version and KDF parameters are bound as
 * associated data so they cannot be edited without the PIN. Version 2 (the PIN or a passkey):
 * the vault is sealed under a random vault key, which is wrapped twice, by the PIN's key and
 * by a key derived with HKDF-SHA256 from a passkey's PRF output, so either opens it. The format is documented in docs/offline-blob.md and
 * read back in Python by tests/support/offline_blob.py (the test suite proves the two agree).
 * WebCrypto only (`globalThis.crypto`), no DOM, so the same file runs in the page and
 * under Node for the tests.
 *
 * @module offline-crypto
 */

export const BLOB_FORMAT = 'webauth-offline';
/** The PIN alone. */
export const BLOB_VERSION = 1;
/** The PIN or a passkey: a vault key wrapped by each (docs/offline-blob.md, "Version 2"). */
export const PASSKEY_BLOB_VERSION = 2;
export const PASSKEY_KDF_NAME = 'HKDF-SHA256';
/** HKDF's info: binds the derived key to this one use of the PRF output. */
export const PASSKEY_HKDF_INFO = 'webauth-offline 2 passkey key-wrapping key';
/** The PRF's input (WebAuthn `prf.eval.first`) and HKDF's salt, drawn per blob. */
export const PRF_INPUT_BYTES = 32;
export const HKDF_SALT_BYTES = 32;
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

/** The passkey's PRF output does not open the blob (another passkey), or the blob was altered. */
export class WrongPasskeyError extends Error {
  constructor() {
    super('this passkey does not open the offline copy, or the copy was altered');
    this.name = 'WrongPasskeyError';
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
async function deriveKey(pin, salt, iterations, usages = ['encrypt', 'decrypt']) {
  const subtle = globalThis.crypto.subtle;
  const password = new TextEncoder().encode(pin.normalize('NFC'));
  const material = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    usages,
  );
}

/**
 * The key that wraps the vault key for a passkey: HKDF-SHA256 over the PRF output.
 *
 * @param {Uint8Array} prfOutput what the authenticator's PRF gave for the blob's `prf_input`
 * @param {Uint8Array} salt the slot's `kdf.salt`
 * @returns {Promise<CryptoKey>} for wrapping and unwrapping only
 */
async function derivePasskeyKey(prfOutput, salt) {
  const subtle = globalThis.crypto.subtle;
  const material = await subtle.importKey('raw', prfOutput, 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: new TextEncoder().encode(PASSKEY_HKDF_INFO) },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['wrapKey', 'unwrapKey'],
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
 * A passkey's part in sealing (version 2): which credential, for which relying party, and
 * what its PRF gave for `prfInput`.
 *
 * @typedef {{credential: string, rpId: string, prfInput: Uint8Array, prfOutput: Uint8Array}} PasskeyPrf
 */

/**
 * Derive a sealer for a new PIN, with a fresh salt; with `passkey`, a version-2 sealer whose
 * blobs the PIN or the passkey opens.
 *
 * @param {string} pin at least MIN_PIN_LENGTH characters
 * @param {{iterations?: number, passkey?: PasskeyPrf}} [options] PBKDF2 iterations,
 *   MIN_ITERATIONS..MAX_ITERATIONS, and the passkey
 * @returns {Promise<Sealer|PasskeySealer>}
 * @throws {RangeError} on a short PIN, bad iterations or a malformed passkey part
 */
export async function createSealer(pin, { iterations = DEFAULT_ITERATIONS, passkey } = {}) {
  if (typeof pin !== 'string' || [...pin.normalize('NFC')].length < MIN_PIN_LENGTH) {
    throw new RangeError(`the PIN must have at least ${MIN_PIN_LENGTH} characters`);
  }
  if (!iterationsInRange(iterations)) {
    throw new RangeError(`iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  if (passkey !== undefined) return createPasskeySealer(pin, iterations, passkey);
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
  if (sealer.version === PASSKEY_BLOB_VERSION) return sealWithVaultKey(sealer, vault);
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
 * @throws {BlobFormatError} when the blob is not a version-1 or version-2 offline copy
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
 * @returns {Promise<{vault: object, sealer: Sealer|PasskeySealer}>}
 * @throws {WrongPinError} when the PIN is wrong or a sealed byte was altered
 * @throws {BlobFormatError} when the blob is not a version-1 or version-2 offline copy
 */
export async function unlockVault(blob, pin) {
  if (!isPlainObject(blob) || blob.format !== BLOB_FORMAT) {
    throw new BlobFormatError('not a webauth offline copy');
  }
  if (blob.version === PASSKEY_BLOB_VERSION) return unlockWithPin(blob, pin);
  if (blob.version !== BLOB_VERSION) {
    throw new BlobFormatError(
      `version ${JSON.stringify(blob.version)} is not supported (expected ${BLOB_VERSION} or ${PASSKEY_BLOB_VERSION})`,
    );
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

// Version 2: a vault key, wrapped by the PIN and by a passkey ---------------------------------

/**
 * A version-2 sealer: the vault key (non-extractable) and the key slots every blob carries
 * unchanged, so that re-sealing after a change needs neither the PIN nor the passkey.
 *
 * @typedef {{version: 2, key: CryptoKey, keys: object[]}} PasskeySealer
 */

const WRAPPED_KEY_BYTES = 32 + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** A host name as a relying party id: letters, digits, dots and hyphens (IDNs in punycode). */
const RP_ID = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
/** WebAuthn allows credential ids of up to 1023 bytes: 1364 base64url characters. */
const MAX_CREDENTIAL_CHARS = 1364;

/** The associated data of the vault's ciphertext in version 2. */
function vaultAad() {
  return [BLOB_FORMAT, PASSKEY_BLOB_VERSION, 'vault', CIPHER_NAME].join('|');
}

/** The associated data of a key slot: every parameter of the slot, so none can be swapped. */
function slotAad(slot) {
  const head = [BLOB_FORMAT, PASSKEY_BLOB_VERSION, slot.kind];
  const rest =
    slot.kind === 'pin'
      ? [KDF_NAME, slot.kdf.iterations, slot.kdf.salt]
      : [PASSKEY_KDF_NAME, slot.kdf.salt, slot.prf_input, slot.credential, slot.rp_id];
  return [...head, ...rest, CIPHER_NAME].join('|');
}

/** @returns {AesGcmParams} */
function aesParams(nonce, aad) {
  return { name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(aad), tagLength: TAG_BYTES * 8 };
}

/** Wrap the vault key under a slot's key; the slot gets its nonce and wrapped key. */
async function wrapInto(slot, vaultKey, wrappingKey) {
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const wrapped = await globalThis.crypto.subtle.wrapKey('raw', vaultKey, wrappingKey, aesParams(nonce, slotAad(slot)));
  return { ...slot, nonce: toBase64(nonce), wrapped: toBase64(new Uint8Array(wrapped)) };
}

/**
 * The vault key out of a slot, as a key that cannot be exported.
 *
 * @throws {DOMException} OperationError when the wrapping key is not the slot's
 */
async function unwrapFrom(slot, wrappingKey) {
  return globalThis.crypto.subtle.unwrapKey(
    'raw',
    fromBase64(slot.wrapped, `${slot.kind}.wrapped`),
    wrappingKey,
    aesParams(fromBase64(slot.nonce, `${slot.kind}.nonce`), slotAad(slot)),
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

function checkPasskeyPrf(passkey) {
  const { credential, rpId, prfInput, prfOutput } = passkey ?? {};
  if (typeof credential !== 'string' || !BASE64URL.test(credential) || credential.length > MAX_CREDENTIAL_CHARS) {
    throw new RangeError('passkey.credential must be the credential id in base64url');
  }
  if (typeof rpId !== 'string' || !RP_ID.test(rpId)) {
    throw new RangeError('passkey.rpId must be a host name');
  }
  if (!(prfInput instanceof Uint8Array) || prfInput.length !== PRF_INPUT_BYTES) {
    throw new RangeError(`passkey.prfInput must be ${PRF_INPUT_BYTES} bytes`);
  }
  if (!(prfOutput instanceof Uint8Array) || prfOutput.length < 32) {
    throw new RangeError('passkey.prfOutput must be the PRF output, 32 bytes');
  }
}

/** A version-2 sealer: a new vault key, wrapped by the PIN's key and by the passkey's. */
async function createPasskeySealer(pin, iterations, passkey) {
  checkPasskeyPrf(passkey);
  const random = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length));
  const pinSalt = random(SALT_BYTES);
  const hkdfSalt = random(HKDF_SALT_BYTES);
  const [pinKey, passkeyKey] = await Promise.all([
    deriveKey(pin, pinSalt, iterations, ['wrapKey', 'unwrapKey']),
    derivePasskeyKey(passkey.prfOutput, hkdfSalt),
  ]);
  // Extractable only so that it can be wrapped; the sealer keeps the unwrapped, non-extractable copy.
  const wrappable = await globalThis.crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, [
    'encrypt',
    'decrypt',
  ]);
  const pinSlot = await wrapInto(
    { kind: 'pin', kdf: { name: KDF_NAME, iterations, salt: toBase64(pinSalt) } },
    wrappable,
    pinKey,
  );
  const passkeySlot = await wrapInto(
    {
      kind: 'passkey',
      credential: passkey.credential,
      rp_id: passkey.rpId,
      prf_input: toBase64(passkey.prfInput),
      kdf: { name: PASSKEY_KDF_NAME, salt: toBase64(hkdfSalt) },
    },
    wrappable,
    passkeyKey,
  );
  const key = await unwrapFrom(pinSlot, pinKey);
  return Object.freeze({ version: PASSKEY_BLOB_VERSION, key, keys: [pinSlot, passkeySlot] });
}

async function sealWithVaultKey(sealer, vault) {
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = await globalThis.crypto.subtle.encrypt(
    aesParams(nonce, vaultAad()),
    sealer.key,
    new TextEncoder().encode(JSON.stringify(vault)),
  );
  return {
    format: BLOB_FORMAT,
    version: PASSKEY_BLOB_VERSION,
    cipher: { name: CIPHER_NAME, nonce: toBase64(nonce) },
    ciphertext: toBase64(new Uint8Array(sealed)),
    keys: sealer.keys.map((slot) => structuredClone(slot)),
  };
}

/** The bytes of a base64 field, which must have exactly `length` bytes. */
function exactBytes(text, field, length) {
  const bytes = fromBase64(text, field);
  if (bytes.length !== length) throw new BlobFormatError(`${field} must be ${length} bytes`);
  return bytes;
}

/**
 * Check a version-2 blob's shape before any key is derived; returns its slots by kind.
 *
 * @returns {{pin: object, passkey: object|undefined}}
 */
function checkVersion2(blob) {
  const { cipher, keys } = blob;
  if (!isPlainObject(cipher) || cipher.name !== CIPHER_NAME) {
    throw new BlobFormatError(`cipher must be ${CIPHER_NAME}`);
  }
  exactBytes(cipher.nonce, 'cipher.nonce', NONCE_BYTES);
  if (fromBase64(blob.ciphertext, 'ciphertext').length < TAG_BYTES) {
    throw new BlobFormatError(`ciphertext must have at least ${TAG_BYTES} bytes`);
  }
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > 2) {
    throw new BlobFormatError('keys must list one or two key slots');
  }
  const slots = {};
  for (const slot of keys) {
    if (!isPlainObject(slot) || !['pin', 'passkey'].includes(slot.kind) || slot.kind in slots) {
      throw new BlobFormatError('keys must hold one "pin" slot and at most one "passkey" slot');
    }
    slots[slot.kind] = slot;
    exactBytes(slot.nonce, `${slot.kind}.nonce`, NONCE_BYTES);
    exactBytes(slot.wrapped, `${slot.kind}.wrapped`, WRAPPED_KEY_BYTES);
    if (!isPlainObject(slot.kdf)) throw new BlobFormatError(`${slot.kind}.kdf is missing`);
  }
  const { pin, passkey } = slots;
  if (!pin) throw new BlobFormatError('keys must hold a "pin" slot');
  if (pin.kdf.name !== KDF_NAME) throw new BlobFormatError(`pin.kdf must be ${KDF_NAME}`);
  if (!iterationsInRange(pin.kdf.iterations)) {
    throw new BlobFormatError(`pin.kdf.iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  exactBytes(pin.kdf.salt, 'pin.kdf.salt', SALT_BYTES);
  if (passkey) {
    if (passkey.kdf.name !== PASSKEY_KDF_NAME) throw new BlobFormatError(`passkey.kdf must be ${PASSKEY_KDF_NAME}`);
    exactBytes(passkey.kdf.salt, 'passkey.kdf.salt', HKDF_SALT_BYTES);
    exactBytes(passkey.prf_input, 'passkey.prf_input', PRF_INPUT_BYTES);
    const { credential, rp_id: rpId } = passkey;
    if (typeof credential !== 'string' || !BASE64URL.test(credential) || credential.length > MAX_CREDENTIAL_CHARS) {
      throw new BlobFormatError('passkey.credential must be a credential id in base64url');
    }
    if (typeof rpId !== 'string' || !RP_ID.test(rpId)) throw new BlobFormatError('passkey.rp_id must be a host name');
  }
  return { pin, passkey };
}

/** Open the vault with its key; the key came out of a slot whose tag held, so a failure here means an altered blob. */
async function openWithVaultKey(blob, key, keys, WrongKey) {
  let plaintext;
  try {
    plaintext = await globalThis.crypto.subtle.decrypt(
      aesParams(fromBase64(blob.cipher.nonce, 'cipher.nonce'), vaultAad()),
      key,
      fromBase64(blob.ciphertext, 'ciphertext'),
    );
  } catch (err) {
    if (err?.name === 'OperationError') throw new WrongKey();
    throw err;
  }
  const vault = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  if (!isPlainObject(vault)) {
    throw new BlobFormatError('the sealed content is not a JSON object');
  }
  const sealer = Object.freeze({ version: PASSKEY_BLOB_VERSION, key, keys: keys.map((slot) => structuredClone(slot)) });
  return { vault, sealer };
}

async function unlockWithPin(blob, pin) {
  const { pin: slot } = checkVersion2(blob);
  if (typeof pin !== 'string') {
    throw new TypeError('the PIN must be a string');
  }
  const pinKey = await deriveKey(pin, fromBase64(slot.kdf.salt, 'pin.kdf.salt'), slot.kdf.iterations, ['unwrapKey']);
  let key;
  try {
    key = await unwrapFrom(slot, pinKey);
  } catch (err) {
    if (err?.name === 'OperationError') throw new WrongPinError();
    throw err;
  }
  return openWithVaultKey(blob, key, blob.keys, WrongPinError);
}

/**
 * What the authenticator must be asked to open a blob with a passkey, or null when the blob
 * has no passkey slot (or is not one this version reads).
 *
 * @param {unknown} blob
 * @returns {{credential: string, rpId: string, prfInput: Uint8Array}|null}
 */
export function passkeyUnlock(blob) {
  if (!isPlainObject(blob) || blob.format !== BLOB_FORMAT || blob.version !== PASSKEY_BLOB_VERSION) return null;
  try {
    const { passkey } = checkVersion2(blob);
    if (!passkey) return null;
    return { credential: passkey.credential, rpId: passkey.rp_id, prfInput: fromBase64(passkey.prf_input, 'prf_input') };
  } catch (err) {
    if (err instanceof BlobFormatError) return null;
    throw err;
  }
}

/**
 * Open a version-2 blob with the PRF output the passkey gave for the blob's `prf_input`.
 *
 * @param {unknown} blob
 * @param {Uint8Array} prfOutput
 * @returns {Promise<{vault: object, sealer: PasskeySealer}>}
 * @throws {WrongPasskeyError} when the output is not this blob's passkey's, or a sealed byte was altered
 * @throws {BlobFormatError} when the blob is not a version-2 offline copy with a passkey slot
 */
export async function unlockVaultWithPasskey(blob, prfOutput) {
  if (!isPlainObject(blob) || blob.format !== BLOB_FORMAT) {
    throw new BlobFormatError('not a webauth offline copy');
  }
  if (blob.version !== PASSKEY_BLOB_VERSION) {
    throw new BlobFormatError(`version ${JSON.stringify(blob.version)} has no passkey`);
  }
  const { passkey: slot } = checkVersion2(blob);
  if (!slot) throw new BlobFormatError('this offline copy has no passkey slot');
  if (!(prfOutput instanceof Uint8Array) || prfOutput.length < 32) {
    throw new TypeError('the PRF output must be 32 bytes');
  }
  const passkeyKey = await derivePasskeyKey(prfOutput, fromBase64(slot.kdf.salt, 'passkey.kdf.salt'));
  let key;
  try {
    key = await unwrapFrom(slot, passkeyKey);
  } catch (err) {
    if (err?.name === 'OperationError') throw new WrongPasskeyError();
    throw err;
  }
  return openWithVaultKey(blob, key, blob.keys, WrongPasskeyError);
}
