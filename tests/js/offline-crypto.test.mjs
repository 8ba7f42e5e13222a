// Sealing and opening the offline copy. Every test runs PBKDF2 at the real 600,000
// iterations (the module refuses fewer), about 0.2 s per key on a laptop.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  BlobFormatError,
  DEFAULT_ITERATIONS,
  WrongPinError,
  openVault,
  sealVault,
} from '../../static/js/offline-crypto.js';

const PIN = '482913';
const VAULT = {
  version: 1,
  created_ms: 1_700_000_000_000,
  server_offset_ms: -1250,
  accounts: [
    {
      uuid: '0b6f0d7e-3c39-4d3e-9a57-0f1c2d3e4f50',
      type: 'totp',
      issuer: 'Example Ünïcode',
      name: 'alice@example.com',
      secret: 'JBSWY3DPEHPK3PXP',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      counter: 0,
      next_code: null,
    },
    {
      uuid: '7d0b5a52-2f5e-4b43-8d0c-2f8a9e0c1b22',
      type: 'hotp',
      issuer: 'VPN',
      name: 'bob',
      secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      counter: 3,
      next_code: '969429',
    },
  ],
};

const decoded = (b64) => Buffer.from(b64, 'base64');

/** A blob sealed once and shared by the tests that only read it, to keep the suite fast. */
const shared = sealVault(VAULT, PIN);

/** A deep copy with one change, as an attacker editing IndexedDB would make. */
async function altered(change) {
  const copy = structuredClone(await shared);
  change(copy);
  return copy;
}

describe('sealVault', () => {
  test('writes the documented fields, encodings and default 600,000 iterations', async () => {
    const blob = await shared;
    assert.equal(DEFAULT_ITERATIONS, 600_000);
    assert.deepEqual(Object.keys(blob).sort(), ['cipher', 'ciphertext', 'format', 'kdf', 'version']);
    assert.equal(blob.format, 'webauth-offline');
    assert.equal(blob.version, 1);
    assert.deepEqual(Object.keys(blob.kdf).sort(), ['iterations', 'name', 'salt']);
    assert.equal(blob.kdf.name, 'PBKDF2-SHA256');
    assert.equal(blob.kdf.iterations, 600_000);
    assert.equal(decoded(blob.kdf.salt).length, 16);
    assert.deepEqual(blob.cipher, { name: 'AES-256-GCM', nonce: blob.cipher.nonce });
    assert.equal(decoded(blob.cipher.nonce).length, 12);
    // Ciphertext and the 16-byte tag: as long as the JSON plus 16.
    const plainLength = new TextEncoder().encode(JSON.stringify(VAULT)).length;
    assert.equal(decoded(blob.ciphertext).length, plainLength + 16);
  });

  test('does not leave the vault readable in the blob', async () => {
    const text = JSON.stringify(await shared);
    for (const needle of ['JBSWY3DPEHPK3PXP', 'alice', 'VPN', '969429']) {
      assert.ok(!text.includes(needle), needle);
    }
  });

  test('draws a fresh salt and nonce for every blob', async () => {
    const [a, b] = [await shared, await sealVault(VAULT, PIN)];
    assert.notEqual(a.kdf.salt, b.kdf.salt);
    assert.notEqual(a.cipher.nonce, b.cipher.nonce);
    assert.notEqual(a.ciphertext, b.ciphertext);
  });

  test('records a higher iteration count when asked', async () => {
    const blob = await sealVault({ accounts: [] }, PIN, { iterations: 600_001 });
    assert.equal(blob.kdf.iterations, 600_001);
    assert.deepEqual(await openVault(blob, PIN), { accounts: [] });
  });

  test('refuses fewer than 600,000 iterations, or absurdly many', async () => {
    for (const iterations of [1000, 599_999, 600_000.5, 10_000_001, '600000']) {
      await assert.rejects(sealVault(VAULT, PIN, { iterations }), RangeError);
    }
  });

  test('refuses a PIN shorter than 6 characters', async () => {
    for (const pin of ['', '12345', 'abcd']) {
      await assert.rejects(sealVault(VAULT, pin), RangeError);
    }
  });

  test('refuses a vault that is not a JSON object', async () => {
    for (const vault of [null, [], 'text', 42]) {
      await assert.rejects(sealVault(vault, PIN), TypeError);
    }
  });
});

describe('openVault', () => {
  test('gives back the vault with the right PIN, also after a JSON round trip', async () => {
    assert.deepEqual(await openVault(await shared, PIN), VAULT);
    const stored = JSON.parse(JSON.stringify(await shared));
    assert.deepEqual(await openVault(stored, PIN), VAULT);
  });

  test('throws WrongPinError for a wrong PIN', async () => {
    for (const pin of ['482914', '', ` ${PIN}`]) {
      await assert.rejects(openVault(await shared, pin), (err) => {
        assert.ok(err instanceof WrongPinError);
        assert.equal(err.name, 'WrongPinError');
        return true;
      });
    }
  });

  test('treats composed and decomposed accents in a PIN alike (NFC)', async () => {
    const blob = await sealVault(VAULT, 'cafe\u0301-1234');
    assert.deepEqual(await openVault(blob, 'caf\u00e9-1234'), VAULT);
  });

  test('fails when a KDF parameter or the ciphertext is altered', async () => {
    const tampered = [
      (b) => {
        b.kdf.iterations += 1;
      },
      (b) => {
        const salt = decoded(b.kdf.salt);
        salt[0] ^= 1;
        b.kdf.salt = salt.toString('base64');
      },
      (b) => {
        const nonce = decoded(b.cipher.nonce);
        nonce[11] ^= 1;
        b.cipher.nonce = nonce.toString('base64');
      },
      (b) => {
        const data = decoded(b.ciphertext);
        data[0] ^= 1;
        b.ciphertext = data.toString('base64');
      },
      (b) => {
        const data = decoded(b.ciphertext);
        b.ciphertext = data.subarray(0, data.length - 1).toString('base64');
      },
    ];
    for (const change of tampered) {
      await assert.rejects(openVault(await altered(change), PIN), WrongPinError);
    }
  });

  test('refuses blobs it cannot read, before deriving a key', async (t) => {
    const deriveKey = t.mock.method(globalThis.crypto.subtle, 'deriveKey');
    const broken = [
      (b) => {
        b.format = 'aegis';
      },
      (b) => {
        b.version = 2;
      },
      (b) => {
        b.kdf.name = 'PBKDF2-SHA1';
      },
      (b) => {
        b.kdf.iterations = 1000;
      },
      (b) => {
        b.kdf.iterations = 1e12;
      },
      (b) => {
        b.cipher.name = 'AES-128-GCM';
      },
      (b) => {
        b.kdf.salt = 'AAAA';
      },
      (b) => {
        b.cipher.nonce = `${b.cipher.nonce} `;
      },
      (b) => {
        b.ciphertext = b.ciphertext.replace(/=+$/, '');
      },
      (b) => {
        delete b.ciphertext;
      },
      (b) => {
        delete b.kdf;
      },
    ];
    for (const change of broken) {
      const blob = await altered(change);
      await assert.rejects(openVault(blob, PIN), BlobFormatError, JSON.stringify(blob).slice(0, 80));
    }
    await assert.rejects(openVault(null, PIN), BlobFormatError);
    assert.equal(deriveKey.mock.callCount(), 0);
  });
});
