/**
 * One-time codes computed in the browser: TOTP (RFC 6238), HOTP (RFC 4226), Steam Guard,
 * mOTP and Yandex Key (both as Aegis computes them).
 *
 * The offline copy of the vault shows codes with no server, so this module must give
 * exactly the codes that `webauth/otp.py` gives: same parameter rules, same lenient base32,
 * same truncation and formatting. Both are tested against the same vectors, and against each
 * other on random accounts (tests/js/otp.test.mjs, tests/unit/test_otp_pins.py).
 * It uses WebCrypto (`globalThis.crypto.subtle`) and, for mOTP's MD5, which WebCrypto lacks,
 * the audited `@noble/hashes` (vendored by scripts/vendor.sh); no DOM, so the same file runs
 * in the page, in the service worker's scope and under Node for the tests.
 *
 * @module otp
 */

import { md5 } from '../vendor/noble-hashes/legacy.js';

/** Steam Guard's 26 characters (no vowels or look-alikes), as in webauth/otp.py. */
export const STEAM_ALPHABET = '23456789BCDFGHJKMNPQRTVWXY';

const STEAM_DIGITS = 5;
const MIN_DIGITS = 5;
const MAX_DIGITS = 10;
const MAX_PERIOD = 24 * 3600;
const MAX_SECRET_BYTES = 256;
/** HOTP counters are 8-byte big-endian on the wire; the server caps them at 2^63-1 too. */
const MAX_COUNTER = 2n ** 63n - 1n;
/** The types whose codes need a PIN, and the bound on a PIN's length (otp.MAX_PIN_LENGTH). */
const PIN_TYPES = ['motp', 'yandex'];
const MAX_PIN_LENGTH = 64;
const YANDEX_SECRET_BYTES = 16;
const YANDEX_FULL_SECRET_BYTES = 26;
const YANDEX_DIGITS = 8;
const MOTP_DIGITS = 6;

/** Algorithm names as the vault stores them, mapped to WebCrypto's names. */
const HASHES = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** What people paste around a secret; the same set the Python `decode_secret` drops. */
const BASE32_JUNK = /[\s=-]+/gu;

/**
 * A parameter of an account is out of range. `field` names it, like Python's
 * `InvalidParameter`, so the page can say which value of the account is wrong.
 */
export class InvalidParameterError extends Error {
  /**
   * @param {string} field
   * @param {string} message
   */
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = 'InvalidParameterError';
    this.field = field;
  }
}

/**
 * Decode base32 as people and apps write it: any case, spaces or dashes, with or without
 * `=` padding. Mirrors `decode_secret` in webauth/otpauth.py, including which lengths it
 * refuses (those that cannot encode whole bytes), so a secret is accepted or refused alike
 * online and offline.
 *
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {InvalidParameterError} with field `secret`
 */
export function decodeBase32(text) {
  if (typeof text !== 'string') {
    throw new InvalidParameterError('secret', 'must be base32 text');
  }
  const stripped = text.replace(BASE32_JUNK, '');
  // Like the server: refuse non-ASCII before upper-casing, so "ß" never becomes "SS".
  if (/[^\p{ASCII}]/u.test(stripped)) {
    throw new InvalidParameterError('secret', 'is not base32 (only the letters A-Z and digits 2-7 are allowed)');
  }
  const cleaned = stripped.toUpperCase();
  if (!cleaned) {
    throw new InvalidParameterError('secret', 'the secret is empty');
  }
  const bad = [...new Set(cleaned.replace(/[A-Z2-7]/g, ''))].sort().join('');
  if (bad) {
    throw new InvalidParameterError('secret', `is not base32 (unexpected '${bad}'; use A-Z and 2-7)`);
  }
  if ([1, 3, 6].includes(cleaned.length % 8)) {
    throw new InvalidParameterError(
      'secret',
      `is not valid base32 (${cleaned.length} characters cannot encode whole bytes)`,
    );
  }
  const out = new Uint8Array(Math.floor((cleaned.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const ch of cleaned) {
    // Keep at most 12 bits in `buffer` so it never leaves the 32-bit range of `<<`.
    buffer = ((buffer << 5) | BASE32_ALPHABET.indexOf(ch)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits (fewer than 8) are padding; Python's b32decode ignores them too.
  return out;
}

/**
 * The PIN as given (an empty one is no PIN), refused like `_checked_pin` in webauth/otp.py
 * when it is not short printable text. Lengths count code points, as Python's `len` does.
 *
 * @param {unknown} pin
 * @returns {string|null}
 */
function checkedPin(pin) {
  if (pin === undefined || pin === null || pin === '') return null;
  if (typeof pin !== 'string') {
    throw new InvalidParameterError('pin', 'must be text');
  }
  if ([...pin].length > MAX_PIN_LENGTH) {
    throw new InvalidParameterError('pin', `is longer than ${MAX_PIN_LENGTH} characters`);
  }
  if (/[\p{Cc}\p{Cs}]/u.test(pin)) {
    throw new InvalidParameterError('pin', 'contains control characters or broken Unicode');
  }
  return pin;
}

/**
 * Yandex's 12-bit checksum at the end of a 26-byte secret, as `_yandex_checksum_ok` in
 * webauth/otp.py (Aegis's `YandexInfo.validateSecret`): the bits before it, fed 13 at a
 * time through a reduction by 0b1100011110011, must leave the checksum.
 *
 * @param {Uint8Array} secret
 * @returns {boolean}
 */
function yandexChecksumOk(secret) {
  const original = ((secret[secret.length - 2] & 0x0f) << 8) | secret[secret.length - 1];
  let accum = 0;
  let accumBits = 0;
  let totalBits = secret.length * 8 - 12;
  let index = 0;
  let bitsAvailable = 8;
  while (totalBits > 0) {
    let required = Math.min(13 - accumBits, totalBits);
    while (required > 0) {
      let current = secret[index] & ((1 << bitsAvailable) - 1);
      const taken = Math.min(required, bitsAvailable);
      current >>= bitsAvailable - taken;
      accum = ((accum << taken) | current) & 0xffff;
      totalBits -= taken;
      required -= taken;
      bitsAvailable -= taken;
      accumBits += taken;
      if (bitsAvailable === 0) {
        index += 1;
        bitsAvailable = 8;
      }
    }
    if (accumBits === 13) accum ^= 0b1_1000_1111_0011;
    accumBits = 32 - Math.clz32(accum);
  }
  return accum === original;
}

/**
 * The 16 bytes of a Yandex secret (`yandex_secret` in webauth/otp.py): 16 as a QR code gives
 * them, or the first 16 of 26 typed by hand once their checksum is right.
 *
 * @param {Uint8Array} secret
 * @returns {Uint8Array}
 */
function yandexSecret(secret) {
  if (secret.length !== YANDEX_SECRET_BYTES && secret.length !== YANDEX_FULL_SECRET_BYTES) {
    throw new InvalidParameterError(
      'secret',
      `a Yandex secret is ${YANDEX_SECRET_BYTES} or ${YANDEX_FULL_SECRET_BYTES} bytes, not ${secret.length}`,
    );
  }
  if (secret.length === YANDEX_FULL_SECRET_BYTES && !yandexChecksumOk(secret)) {
    throw new InvalidParameterError('secret', "the Yandex secret's checksum is wrong; check it for typos");
  }
  return secret.slice(0, YANDEX_SECRET_BYTES);
}

/**
 * Validate and normalise an account the way `OtpParams.__post_init__` does: Steam is
 * always SHA1/5/30 s, mOTP MD5/6/10 s, Yandex SHA256/8/30 s, TOTP ignores the counter and
 * HOTP the period; only mOTP and Yandex keep a PIN.
 *
 * @param {{type: string, secret: string, algorithm?: string, digits?: number,
 *          period?: number, counter?: number|bigint, pin?: string|null}} account
 * @returns {{type: string, key: Uint8Array, algorithm: string, digits: number,
 *            period: number, counter: bigint, pin: string|null}}
 */
function normalise(account) {
  const { type, secret, algorithm = 'SHA1', digits = 6, period = 30, counter = 0, pin = null } = account;
  if (!['totp', 'hotp', 'steam', ...PIN_TYPES].includes(type)) {
    throw new InvalidParameterError('type', `unknown type '${type}'; use totp, hotp, steam, motp or yandex`);
  }
  const algo = String(algorithm).toUpperCase();
  if (!PIN_TYPES.includes(type) && !Object.hasOwn(HASHES, algo)) {
    throw new InvalidParameterError('algorithm', `unknown algorithm '${algorithm}'; use SHA1, SHA256 or SHA512`);
  }
  const key = decodeBase32(secret);
  if (key.length > MAX_SECRET_BYTES) {
    throw new InvalidParameterError('secret', `the secret is longer than ${MAX_SECRET_BYTES} bytes`);
  }
  if (type === 'motp') {
    return { type, key, algorithm: 'MD5', digits: MOTP_DIGITS, period: 10, counter: 0n, pin: checkedPin(pin) };
  }
  if (type === 'yandex') {
    const checked = checkedPin(pin);
    return { type, key: yandexSecret(key), algorithm: 'SHA256', digits: YANDEX_DIGITS, period: 30, counter: 0n, pin: checked };
  }
  if (type === 'steam') {
    return { type, key, algorithm: 'SHA1', digits: STEAM_DIGITS, period: 30, counter: 0n, pin: null };
  }
  if (!Number.isInteger(digits)) {
    throw new InvalidParameterError('digits', 'must be a whole number');
  }
  if (digits < MIN_DIGITS || digits > MAX_DIGITS) {
    throw new InvalidParameterError('digits', `must be between ${MIN_DIGITS} and ${MAX_DIGITS}, not ${digits}`);
  }
  if (type === 'totp') {
    if (!Number.isInteger(period)) {
      throw new InvalidParameterError('period', 'must be a whole number of seconds');
    }
    if (period < 1 || period > MAX_PERIOD) {
      throw new InvalidParameterError('period', `must be between 1 and ${MAX_PERIOD} seconds, not ${period}`);
    }
    return { type, key, algorithm: algo, digits, period, counter: 0n, pin: null };
  }
  // A JSON number above 2^53 has already lost digits, so only exact values are accepted.
  if (!(typeof counter === 'bigint' || Number.isSafeInteger(counter))) {
    throw new InvalidParameterError('counter', 'must be a whole number');
  }
  const big = BigInt(counter);
  if (big < 0n || big > MAX_COUNTER) {
    throw new InvalidParameterError('counter', 'must be between 0 and 2^63-1');
  }
  return { type, key, algorithm: algo, digits, period: 30, counter: big, pin: null };
}

/**
 * The 31-bit dynamically truncated HMAC of RFC 4226 §5.3, which every code type formats.
 *
 * @param {Uint8Array} key
 * @param {bigint} counter
 * @param {string} algorithm SHA1, SHA256 or SHA512
 * @returns {Promise<number>}
 */
async function truncatedValue(key, counter, algorithm) {
  const subtle = globalThis.crypto.subtle;
  const hmacKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: HASHES[algorithm] }, false, ['sign']);
  const message = new ArrayBuffer(8);
  new DataView(message).setBigUint64(0, counter);
  const mac = new Uint8Array(await subtle.sign('HMAC', hmacKey, message));
  const offset = mac[mac.length - 1] & 0x0f;
  return (
    ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3]
  );
}

/** The bytes as lower-case hex, as mOTP hashes its secret. */
function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Mobile-OTP (`motp_code` in webauth/otp.py): the first 6 hex digits of the MD5 of the
 * 10-second step in decimal, the secret in lower-case hex and the PIN, as one UTF-8 string.
 *
 * @param {Uint8Array} key
 * @param {string} pin
 * @param {bigint} step
 * @returns {string}
 */
export function motpCode(key, pin, step) {
  const digest = md5(new TextEncoder().encode(`${step}${toHex(key)}${pin}`));
  return toHex(digest).slice(0, MOTP_DIGITS);
}

/**
 * A Yandex Key code (`yandex_code` in webauth/otp.py): HMAC-SHA256 keyed by the SHA-256 of
 * PIN and secret (less a leading zero byte), 8 bytes from the dynamic offset with the top bit
 * cleared, modulo 26^8, as 8 lower-case letters, most significant first.
 *
 * @param {Uint8Array} key
 * @param {string} pin
 * @param {bigint} step
 * @returns {Promise<string>}
 */
export async function yandexCode(key, pin, step) {
  const subtle = globalThis.crypto.subtle;
  const pinBytes = new TextEncoder().encode(pin);
  const material = new Uint8Array(pinBytes.length + key.length);
  material.set(pinBytes);
  material.set(key, pinBytes.length);
  let keyHash = new Uint8Array(await subtle.digest('SHA-256', material));
  if (keyHash[0] === 0) keyHash = keyHash.slice(1);
  const hmacKey = await subtle.importKey('raw', keyHash, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const message = new ArrayBuffer(8);
  new DataView(message).setBigUint64(0, step);
  const mac = new Uint8Array(await subtle.sign('HMAC', hmacKey, message));
  const offset = mac[mac.length - 1] & 0x0f;
  mac[offset] &= 0x7f;
  let value = new DataView(mac.buffer).getBigUint64(offset) % 26n ** BigInt(YANDEX_DIGITS);
  const letters = [];
  for (let i = 0; i < YANDEX_DIGITS; i++) {
    letters.unshift(String.fromCharCode(97 + Number(value % 26n)));
    value /= 26n;
  }
  return letters.join('');
}

/**
 * The code of an account: for TOTP, Steam, mOTP and Yandex at `nowMs`, for HOTP at its `counter`.
 *
 * Offline, pass `Date.now()` plus the server clock offset stored in the vault, so the
 * codes match what the server (and the site being signed in to) expects even when the
 * device clock is off.
 *
 * @param {{type: 'totp'|'hotp'|'steam'|'motp'|'yandex', secret: string, algorithm?: string,
 *          digits?: number, period?: number, counter?: number|bigint, pin?: string|null}} account
 *   `secret` is base32 (an mOTP secret too: its bytes); the other fields default as in an
 *   otpauth URI (SHA1, 6, 30 s, 0); mOTP and Yandex need their `pin`.
 * @param {number} [nowMs] Unix time in milliseconds; defaults to `Date.now()`. Ignored for HOTP.
 * @returns {Promise<string>} digits with leading zeros, 5 Steam characters, 6 hex digits
 *   (mOTP) or 8 letters (Yandex)
 * @throws {InvalidParameterError} when a parameter is out of range or a PIN is missing
 */
export async function generateCode(account, nowMs = Date.now()) {
  const params = normalise(account);
  let moving = params.counter;
  if (params.type !== 'hotp') {
    if (!Number.isFinite(nowMs) || nowMs < 0) {
      throw new InvalidParameterError('time', 'must be a Unix time in milliseconds, not before 1970');
    }
    // One division of the millisecond count keeps the step exact at the period boundary.
    moving = BigInt(Math.floor(nowMs / (params.period * 1000)));
  }
  if (PIN_TYPES.includes(params.type)) {
    if (params.pin === null) {
      throw new InvalidParameterError('pin', 'the account has no PIN, and its codes need one');
    }
    return params.type === 'motp' ? motpCode(params.key, params.pin, moving) : yandexCode(params.key, params.pin, moving);
  }
  const value = await truncatedValue(params.key, moving, params.algorithm);
  if (params.type === 'steam') {
    let rest = value;
    let code = '';
    for (let i = 0; i < STEAM_DIGITS; i++) {
      code += STEAM_ALPHABET[rest % STEAM_ALPHABET.length];
      rest = Math.floor(rest / STEAM_ALPHABET.length);
    }
    return code;
  }
  // `value` < 2^31 < 10^10, so the modulo is exact for every allowed digit count.
  return String(value % 10 ** params.digits).padStart(params.digits, '0');
}

/**
 * Seconds until the current code of a timed account expires, in (0, period]. The page
 * uses it to start the countdown ring part-way and to fetch or compute the next code just
 * after the boundary instead of polling every second.
 *
 * @param {number} period seconds
 * @param {number} [nowMs] Unix time in milliseconds; defaults to `Date.now()`
 * @returns {number} seconds, with millisecond precision
 */
export function secondsRemaining(period, nowMs = Date.now()) {
  if (!Number.isInteger(period) || period < 1) {
    throw new InvalidParameterError('period', 'must be a whole number of seconds');
  }
  const periodMs = period * 1000;
  // Floored modulo (like Python's %), so a time before 1970 still gives (0, period].
  const intoPeriod = ((nowMs % periodMs) + periodMs) % periodMs;
  return (periodMs - intoPeriod) / 1000;
}
