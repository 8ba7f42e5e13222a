// The offline copy's pure parts: re-sealing with a key kept in memory, the PIN rules, and the
// list's formatting, which must match the server's (the group_code filter, icons.letter_tile).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { pinProblem } from '../../static/js/offline-copy.js';
import {
  BlobFormatError,
  WrongPinError,
  createSealer,
  openVault,
  sealVault,
  sealWith,
  unlockVault,
} from '../../static/js/offline-crypto.js';
import { groupCode } from '../../static/js/offline-list.js';
import { tileColour, tileInitials } from '../../static/js/tiles.js';

const PIN = 'tulip-5820';
const VAULT = { version: 1, created_ms: 1_700_000_000_000, server_offset_ms: 0, accounts: [] };

describe('sealers: re-sealing without the PIN', () => {
  test('a sealer from unlocking seals blobs the same PIN opens, each with its own nonce', async () => {
    const first = await sealVault(VAULT, PIN);
    const { vault, sealer } = await unlockVault(first, PIN);
    assert.deepEqual(vault, VAULT);
    const changed = { ...VAULT, accounts: [{ uuid: 'x' }] };
    const second = await sealWith(sealer, changed);
    const third = await sealWith(sealer, changed);
    assert.deepEqual(await openVault(second, PIN), changed);
    assert.equal(second.kdf.salt, first.kdf.salt);
    assert.notEqual(second.cipher.nonce, third.cipher.nonce);
    await assert.rejects(openVault(second, 'tulip-5821'), WrongPinError);
  });

  test('the key cannot be read out of a sealer', async () => {
    const sealer = await createSealer(PIN);
    assert.equal(sealer.key.extractable, false);
    assert.ok(Object.isFrozen(sealer));
    await assert.rejects(globalThis.crypto.subtle.exportKey('raw', sealer.key));
  });

  test('a new sealer draws a new salt, and refuses short PINs', async () => {
    const [a, b] = await Promise.all([createSealer(PIN), createSealer(PIN)]);
    assert.notEqual(a.salt, b.salt);
    await assert.rejects(createSealer('12345'), RangeError);
    await assert.rejects(sealWith(a, []), TypeError);
  });

  test('unlocking checks the blob before deriving a key', async () => {
    await assert.rejects(unlockVault({ format: 'other' }, PIN), BlobFormatError);
  });
});

describe('pinProblem', () => {
  test('accepts PINs of six characters or more and passphrases', () => {
    for (const pin of ['582014', '5820-tulip', 'correct horse', '137946', 'ÅÄÖåäö']) {
      assert.equal(pinProblem(pin, pin), null, pin);
    }
  });

  test('refuses short ones, counting characters after NFC like the crypto module', () => {
    assert.equal(pinProblem('12345', '12345'), 'short');
    assert.equal(pinProblem('a\u0308bcde', 'a\u0308bcde'), 'short'); // 6 code points, 5 after NFC
  });

  test('refuses repeated and consecutive runs', () => {
    for (const pin of ['000000', '123456', '987654', '23456789', 'aaaaaaa', 'abcdef']) {
      assert.equal(pinProblem(pin, pin), 'simple', pin);
    }
  });

  test('wants the PIN twice', () => {
    assert.equal(pinProblem('582014', '582041'), 'mismatch');
  });
});

describe('the list matches the server filters', () => {
  test('groupCode splits digits like group_code', () => {
    assert.equal(groupCode('123456'), '123 456');
    assert.equal(groupCode('12345678'), '1234 5678');
    assert.equal(groupCode('1234567'), '123 4567');
    assert.equal(groupCode('12345'), '12345');
    assert.equal(groupCode('2BCDF'), '2BCDF');
    assert.equal(groupCode(''), '');
  });

  test('letter tiles as the server draws them (computed with webauth.icons.letter_tile)', () => {
    const expected = {
      Microsoft: ['Mi', 7], 'Amazon Web Services': ['AW', 13], AWS: ['AW', 2], 微信: ['微', 8], 'Bank (work)': ['Ba', 5],
    };
    for (const [label, [initials, colour]] of Object.entries(expected)) {
      assert.equal(tileInitials(label), initials, label);
      assert.equal(tileColour(label), colour, label);
    }
  });
});
