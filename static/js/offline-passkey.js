/**
 * The offline copy's passkey: asking the authenticator for its PRF output, which unwraps the
 * copy's vault key (offline-crypto.js, version 2).
 *
 * This needs no server and no network: WebAuthn's `get` with the credential's id, the
 * relying party id and the PRF extension runs between the browser and the authenticator
 * alone. The challenge is random and checked by nobody; what proves the passkey is that
 * its PRF output opens the copy. User verification is required, both so that a touch alone
 * never opens the codes and because an authenticator's PRF gives another output without it.
 *
 * @module offline-passkey
 */

/** The browser or the passkey's authenticator has no PRF (the `prf` extension). */
export class PrfUnavailableError extends Error {
  constructor() {
    super('this passkey or browser cannot unlock the offline copy');
    this.name = 'PrfUnavailableError';
  }
}

function toBase64Url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (ch) => ch.charCodeAt(0));
}

/** Whether a passkey might unlock the copy here: WebAuthn, and no word from the browser that PRF is missing. */
export async function prfMaybeSupported() {
  if (!globalThis.PublicKeyCredential || !navigator.credentials?.get) return false;
  const capabilities = await PublicKeyCredential.getClientCapabilities?.().catch(() => null);
  return capabilities?.['extension:prf'] !== false;
}

/**
 * Ask for one of `credentials` (base64url ids) to evaluate its PRF at `prfInput`.
 *
 * @param {{rpId: string, credentials: string[], prfInput: Uint8Array}} request
 * @returns {Promise<{credential: string, prfOutput: Uint8Array}>} the credential that answered
 * @throws {PrfUnavailableError} when the answer carries no PRF output
 * @throws {DOMException} NotAllowedError when the person cancels or the request times out
 */
export async function evaluatePrf({ rpId, credentials, prfInput }) {
  const assertion = await navigator.credentials.get({
    publicKey: {
      challenge: globalThis.crypto.getRandomValues(new Uint8Array(32)),
      rpId,
      allowCredentials: credentials.map((id) => ({ type: 'public-key', id: fromBase64Url(id) })),
      userVerification: 'required',
      timeout: 120_000,
      extensions: { prf: { eval: { first: prfInput } } },
    },
  });
  const first = assertion?.getClientExtensionResults?.().prf?.results?.first;
  if (!first) throw new PrfUnavailableError();
  return { credential: toBase64Url(new Uint8Array(assertion.rawId)), prfOutput: new Uint8Array(first) };
}
