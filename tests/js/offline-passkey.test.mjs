// The offline copy's version 2: a vault key wrapped by the PIN and by a passkey's PRF output
// (HKDF-SHA256, then AES-256-GCM key wrapping), so either opens the copy. The wrapping is
// checked against node:crypto, an implementation independent of WebCrypto's.
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';

import {
  BlobFormatError,
  PASSKEY_HKDF_INFO,
  WrongPasskeyError,
  WrongPinError,
  createSealer,
  openVault,
  passkeyUnlock,
  sealWith,
  unlockVault,
  unlockVaultWithPasskey,
} from '../../static/js/offline-crypto.js';

const PIN = 'tulip-5820';
const VAULT = { version: 1, created_ms: 1_700_000_000_000, server_offset_ms: 0, accounts: [{ uuid: 'a' }] };
const PRF_INPUT = Uint8Array.from({ length: 32 }, (_, i) => i);
const PRF_OUTPUT = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const PASSKEY = { credential: 'cred-ID_0123', rpId: 'auth.example.com', prfInput: PRF_INPUT, prfOutput: PRF_OUTPUT };

const bytes = (b64) => Buffer.from(b64, 'base64');

/** One blob for the tests that only read it (a PIN's key takes 600,000 PBKDF2 iterations). */
const shared = createSealer(PIN, { passkey: PASSKEY }).then((sealer) => sealWith(sealer, VAULT));

async function altered(change) {
  const copy = structuredClone(await shared);
  change(copy);
  return copy;
}

/** AES-256-GCM decryption by node:crypto: `data` is ciphertext followed by the 16-byte tag. */
function gcmOpen(key, nonce, data, aad) {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
}

describe('version 2: the PIN or a passkey', () => {
  test('writes the documented fields, the PIN slot first', async () => {
    const blob = await shared;
    assert.deepEqual(Object.keys(blob).sort(), ['cipher', 'ciphertext', 'format', 'keys', 'version']);
    assert.equal(blob.version, 2);
    const [pin, passkey] = blob.keys;
    assert.deepEqual(Object.keys(pin).sort(), ['kdf', 'kind', 'nonce', 'wrapped']);
    assert.deepEqual(pin.kdf, { name: 'PBKDF2-SHA256', iterations: 600_000, salt: pin.kdf.salt });
    assert.deepEqual(Object.keys(passkey).sort(), ['credential', 'kdf', 'kind', 'nonce', 'prf_input', 'rp_id', 'wrapped']);
    assert.equal(passkey.credential, 'cred-ID_0123');
    assert.equal(passkey.rp_id, 'auth.example.com');
    assert.deepEqual(bytes(passkey.prf_input), Buffer.from(PRF_INPUT));
    assert.deepEqual([bytes(passkey.kdf.salt).length, bytes(pin.kdf.salt).length], [32, 16]);
    for (const slot of blob.keys) assert.equal(bytes(slot.wrapped).length, 48);
    const text = JSON.stringify(blob);
    assert.ok(!text.includes(Buffer.from(PRF_OUTPUT).toString('base64')));
  });

  test('HKDF-SHA256 with the documented info string, then AES-GCM, as node:crypto computes them', async () => {
    const blob = await shared;
    const slot = blob.keys[1];
    assert.equal(PASSKEY_HKDF_INFO, 'webauth-offline 2 passkey key-wrapping key');
    const wrappingKey = Buffer.from(hkdfSync('sha256', PRF_OUTPUT, bytes(slot.kdf.salt), PASSKEY_HKDF_INFO, 32));
    const slotAad = ['webauth-offline', 2, 'passkey', 'HKDF-SHA256', slot.kdf.salt, slot.prf_input, slot.credential,
      slot.rp_id, 'AES-256-GCM'].join('|');
    const vaultKey = gcmOpen(wrappingKey, bytes(slot.nonce), bytes(slot.wrapped), slotAad);
    assert.equal(vaultKey.length, 32);
    const plain = gcmOpen(vaultKey, bytes(blob.cipher.nonce), bytes(blob.ciphertext), 'webauth-offline|2|vault|AES-256-GCM');
    assert.deepEqual(JSON.parse(plain.toString('utf8')), VAULT);
  });

  test('either the PIN or the PRF output opens it; nothing else does', async () => {
    const blob = await shared;
    assert.deepEqual(await openVault(blob, PIN), VAULT);
    assert.deepEqual((await unlockVaultWithPasskey(blob, PRF_OUTPUT)).vault, VAULT);
    await assert.rejects(openVault(blob, 'tulip-5821'), WrongPinError);
    const otherOutput = PRF_OUTPUT.map((byte) => byte ^ 1);
    await assert.rejects(unlockVaultWithPasskey(blob, otherOutput), WrongPasskeyError);
  });

  test('a sealer from either unlock re-seals with both slots unchanged, and keeps its key to itself', async () => {
    const blob = await shared;
    const changed = { ...VAULT, accounts: [] };
    for (const { sealer } of [await unlockVaultWithPasskey(blob, PRF_OUTPUT), await unlockVault(blob, PIN)]) {
      assert.equal(sealer.key.extractable, false);
      await assert.rejects(globalThis.crypto.subtle.exportKey('raw', sealer.key));
      const next = await sealWith(sealer, changed);
      assert.deepEqual(next.keys, blob.keys);
      assert.notEqual(next.cipher.nonce, blob.cipher.nonce);
      assert.deepEqual(await openVault(next, PIN), changed);
      assert.deepEqual((await unlockVaultWithPasskey(next, PRF_OUTPUT)).vault, changed);
    }
  });

  test('says what to ask the authenticator, and nothing for a PIN-only copy', async () => {
    const request = passkeyUnlock(await shared);
    assert.deepEqual(request, { credential: 'cred-ID_0123', rpId: 'auth.example.com', prfInput: PRF_INPUT });
    assert.equal(passkeyUnlock(await altered((b) => b.keys.pop())), null);
    const pinOnly = await sealWith(await createSealer(PIN), VAULT);
    assert.equal(pinOnly.version, 1);
    assert.equal(passkeyUnlock(pinOnly), null);
    await assert.rejects(unlockVaultWithPasskey(pinOnly, PRF_OUTPUT), BlobFormatError);
  });

  test('every parameter of a slot is bound: changing one fails that slot alone', async () => {
    const flip = (b64) => {
      const data = bytes(b64);
      data[0] ^= 1;
      return data.toString('base64');
    };
    const passkeyChanges = [
      (slot) => { slot.credential = 'cred-ID_0124'; },
      (slot) => { slot.rp_id = 'evil.example.com'; },
      (slot) => { slot.prf_input = flip(slot.prf_input); },
      (slot) => { slot.kdf.salt = flip(slot.kdf.salt); },
      (slot) => { slot.nonce = flip(slot.nonce); },
      (slot) => { slot.wrapped = flip(slot.wrapped); },
    ];
    for (const change of passkeyChanges) {
      const blob = await altered((b) => change(b.keys[1]));
      await assert.rejects(unlockVaultWithPasskey(blob, PRF_OUTPUT), WrongPasskeyError, String(change));
      assert.deepEqual(await openVault(blob, PIN), VAULT);
    }
    const pinChanged = await altered((b) => { b.keys[0].kdf.iterations += 1; });
    await assert.rejects(openVault(pinChanged, PIN), WrongPinError);
    assert.deepEqual((await unlockVaultWithPasskey(pinChanged, PRF_OUTPUT)).vault, VAULT);
    const vaultChanged = await altered((b) => { b.ciphertext = flip(b.ciphertext); });
    await assert.rejects(openVault(vaultChanged, PIN), WrongPinError);
    await assert.rejects(unlockVaultWithPasskey(vaultChanged, PRF_OUTPUT), WrongPasskeyError);
  });

  test("another copy's passkey slot does not open this one", async () => {
    const other = await sealWith(await createSealer(PIN, { passkey: PASSKEY }), VAULT);
    const swapped = await altered((b) => { b.keys[1] = other.keys[1]; });
    assert.deepEqual(await openVault(swapped, PIN), VAULT);
    // The swapped slot gives its own copy's vault key, which does not open this ciphertext.
    await assert.rejects(unlockVaultWithPasskey(swapped, PRF_OUTPUT), WrongPasskeyError);
  });

  test('refuses malformed version-2 blobs before deriving a key', async (t) => {
    const deriveKey = t.mock.method(globalThis.crypto.subtle, 'deriveKey');
    const broken = [
      (b) => { delete b.keys; },
      (b) => { b.keys = []; },
      (b) => { b.keys.shift(); },
      (b) => { b.keys[1] = structuredClone(b.keys[0]); },
      (b) => { b.keys.push(structuredClone(b.keys[1])); },
      (b) => { b.keys[1].kind = 'password'; },
      (b) => { b.keys[1].kdf.name = 'HKDF-SHA1'; },
      (b) => { b.keys[1].kdf.salt = 'AAAA'; },
      (b) => { b.keys[1].prf_input = 'AAAA'; },
      (b) => { b.keys[1].credential = 'not base64url!'; },
      (b) => { b.keys[1].rp_id = 'evil|example'; },
      (b) => { b.keys[0].wrapped = 'AAAA'; },
      (b) => { b.keys[0].kdf.iterations = 1000; },
      (b) => { b.cipher.nonce = 'AAAA'; },
    ];
    for (const change of broken) {
      const blob = await altered(change);
      await assert.rejects(openVault(blob, PIN), BlobFormatError, String(change));
    }
    assert.equal(deriveKey.mock.callCount(), 0);
  });

  test('refuses a malformed passkey part when sealing', async () => {
    const bad = [
      { ...PASSKEY, credential: 'a b' },
      { ...PASSKEY, rpId: 'https://auth.example.com' },
      { ...PASSKEY, prfInput: new Uint8Array(16) },
      { ...PASSKEY, prfOutput: new Uint8Array(8) },
      null,
    ];
    for (const passkey of bad) {
      await assert.rejects(createSealer(PIN, { passkey }), RangeError);
    }
  });
});
