// The camera scanner reads the batch fields of Google Authenticator transfer codes, so that it
// keeps scanning until every QR code of a transfer is in. The URIs were written by the server's
// exporter (webauth/transfer/google.py), with a negative batch_id (a 10-byte varint).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { linkKind, migrationBatch } from '../../static/js/scanner.js';

const BATCHES = [
  'otpauth-migration://offline?data=ChwKCkhlbGxvId6tvu8SBFMwOmEaAlMwIAEoATACEAEYAyAAKIWAgID4%2F%2F%2F%2F%2FwE%3D',
  'otpauth-migration://offline?data=ChwKCjEyMzQ1Njc4OTASBFMxOmEaAlMxIAEoATACEAEYAyABKIWAgID4%2F%2F%2F%2F%2FwE%3D',
  'otpauth-migration://offline?data=ChwKClRlc3RTZWNyZXQSBFMyOmEaAlMyIAEoATACEAEYAyACKIWAgID4%2F%2F%2F%2F%2FwE%3D',
];

test('each batch of a three-part transfer knows its place', () => {
  assert.deepEqual(BATCHES.map(migrationBatch), [
    { index: 0, size: 3 },
    { index: 1, size: 3 },
    { index: 2, size: 3 },
  ]);
});

test('base64 whose + was decoded to a space still reads', () => {
  const spaced = 'otpauth-migration://offline?data=ChwKCkhlbGxvId6tvu8SBFMwOmEaAlMwIAEoATACEAEYAyAAKIWAgID4/////wE=';
  assert.deepEqual(migrationBatch(spaced.replace('+', ' ')), { index: 0, size: 3 });
});

test('anything unreadable counts as a transfer of one code', () => {
  for (const uri of ['otpauth-migration://offline', 'otpauth-migration://offline?data=%%%', 'otpauth-migration://offline?data=/////w']) {
    assert.deepEqual(migrationBatch(uri), { index: 0, size: 1 });
  }
});

test('one account, an mOTP account, a transfer or neither', () => {
  assert.equal(linkKind('otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP'), 'link');
  assert.equal(linkKind('OTPAUTH://yaotp/Yandex:me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I'), 'link');
  assert.equal(linkKind('motp://VPN:alice?secret=e3152afee62599c8'), 'link');
  assert.equal(linkKind('motp:VPN%3Aalice?secret=e3152afee62599c8&issuer=VPN'), 'link');
  assert.equal(linkKind(BATCHES[0]), 'migration');
  assert.equal(linkKind('https://example.com/otpauth://totp'), null);
  assert.equal(linkKind('hello'), null);
});
