/**
 * One-time codes computed in the browser: TOTP (RFC 6238), HOTP (RFC 4226) and Steam Guard.
 *
 * The offline copy of the vault shows codes with no server, so this module must give
 * exactly the codes that `webauth/otp.py` gives: same parameter rules, same lenient base32,
 * same truncation and formatting. Both are tested against shared/fixtures/otp-vectors.json.
 * It uses only WebCrypto (`globalThis.crypto.subtle`) and no DOM, so the same file runs in
 * the page, in the service worker's scope and under Node for the tests.
 *
 * @module otp
 */

/** Steam Guard's 26 characters (no vowels or look-alikes), as in webauth/otp.py. */
export const STEAM_ALPHABET = '23456789BCDFGHJKMNPQRTVWXY';

const STEAM_DIGITS = 5;
const MIN_DIGITS = 5;
const MAX_DIGITS = 10;
const MAX_PERIOD = 24 * 3600;
const MAX_SECRET_BYTES = 256;
/** HOTP counters are 8-byte big-endian on the wire; the server caps them at 2^63-1 too. */
const MAX_COUNTER = 2n ** 63n - 1n;

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
 * Validate and normalise an account the way `OtpParams.__post_init__` does: Steam is
 * always SHA1/5/30 s, TOTP ignores the counter and HOTP the period.
 *
 * @param {{type: string, secret: string, algorithm?: string, digits?: number,
 *          period?: number, counter?: number|bigint}} account
 * @returns {{type: string, key: Uint8Array, algorithm: string, digits: number,
 *            period: number, counter: bigint}}
 */
function normalise(account) {
  const { type, secret, algorithm = 'SHA1', digits = 6, period = 30, counter = 0 } = account;
  if (!['totp', 'hotp', 'steam'].includes(type)) {
    throw new InvalidParameterError('type', `unknown type '${type}'; use totp, hotp or steam`);
  }
  const algo = String(algorithm).toUpperCase();
  if (!Object.hasOwn(HASHES, algo)) {
    throw new InvalidParameterError('algorithm', `unknown algorithm '${algorithm}'; use SHA1, SHA256 or SHA512`);
  }
  const key = decodeBase32(secret);
  if (key.length > MAX_SECRET_BYTES) {
    throw new InvalidParameterError('secret', `the secret is longer than ${MAX_SECRET_BYTES} bytes`);
  }
  if (type === 'steam') {
    return { type, key, algorithm: 'SHA1', digits: STEAM_DIGITS, period: 30, counter: 0n };
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
    return { type, key, algorithm: algo, digits, period, counter: 0n };
  }
  // A JSON number above 2^53 has already lost digits, so only exact values are accepted.
  if (!(typeof counter === 'bigint' || Number.isSafeInteger(counter))) {
    throw new InvalidParameterError('counter', 'must be a whole number');
  }
  const big = BigInt(counter);
  if (big < 0n || big > MAX_COUNTER) {
    throw new InvalidParameterError('counter', 'must be between 0 and 2^63-1');
  }
  return { type, key, algorithm: algo, digits, period: 30, counter: big };
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

/**
 * The code of an account: for TOTP and Steam at `nowMs`, for HOTP at its `counter`.
 *
 * Offline, pass `Date.now()` plus the server clock offset stored in the vault, so the
 * codes match what the server (and the site being signed in to) expects even when the
 * device clock is off.
 *
 * @param {{type: 'totp'|'hotp'|'steam', secret: string, algorithm?: string,
 *          digits?: number, period?: number, counter?: number|bigint}} account
 *   `secret` is base32; the other fields default as in an otpauth URI (SHA1, 6, 30 s, 0).
 * @param {number} [nowMs] Unix time in milliseconds; defaults to `Date.now()`. Ignored for HOTP.
 * @returns {Promise<string>} digits with leading zeros, or 5 Steam characters
 * @throws {InvalidParameterError} when a parameter is out of range
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
