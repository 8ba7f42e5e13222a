// The browser's code generator against the vectors the Python generator is tested with,
// so online (server) and offline (browser) codes cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  InvalidParameterError,
  STEAM_ALPHABET,
  decodeBase32,
  generateCode,
  secondsRemaining,
} from '../../static/js/otp.js';

// The same file tests/unit/test_otp.py reads: RFC 4226 and 6238 figures, Steam, pyotp.
const vectorsUrl = new URL('../fixtures/otp-vectors.json', import.meta.url);
const { vectors } = JSON.parse(readFileSync(vectorsUrl, 'utf8'));

const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // ASCII "12345678901234567890"
const bytes = (text) => new TextEncoder().encode(text);

describe('OTP vectors', () => {
  test('the fixture holds every kind of vector', () => {
    const types = new Set(vectors.map((v) => v.type));
    assert.deepEqual([...types].sort(), ['hotp', 'steam', 'totp']);
    assert.ok(vectors.length >= 40);
  });

  for (const v of vectors) {
    const at = v.type === 'hotp' ? `counter ${v.counter}` : `t=${v.time}`;
    test(`${v.source}: ${v.type} ${v.algorithm} ${v.digits} digits ${at} -> ${v.code}`, async () => {
      const account = {
        type: v.type,
        secret: v.secret,
        algorithm: v.algorithm,
        digits: v.digits,
        period: v.period,
        counter: v.counter,
      };
      assert.equal(await generateCode(account, (v.time ?? 0) * 1000), v.code);
    });
  }
});

describe('generateCode', () => {
  test('a TOTP code changes exactly at the period boundary', async () => {
    const account = { type: 'totp', secret: RFC_SECRET, digits: 8 };
    assert.equal(await generateCode(account, 59_999), '94287082');
    assert.equal(await generateCode(account, 60_000), await generateCode(account, 89_999));
    assert.notEqual(await generateCode(account, 59_999), await generateCode(account, 60_000));
  });

  test('defaults are SHA1, 6 digits, 30 seconds, counter 0', async () => {
    assert.equal(await generateCode({ type: 'hotp', secret: RFC_SECRET }), '755224');
    assert.equal(await generateCode({ type: 'totp', secret: RFC_SECRET }, 59_000), '287082');
  });

  test('lower-case algorithm names are accepted, like the server', async () => {
    const account = { type: 'hotp', secret: RFC_SECRET, algorithm: 'sha1', counter: 9 };
    assert.equal(await generateCode(account), '520489');
  });

  test('a TOTP account ignores its counter and an HOTP account the time', async () => {
    const totp = { type: 'totp', secret: RFC_SECRET, digits: 8, counter: 5 };
    assert.equal(await generateCode(totp, 59_000), '94287082');
    const hotp = { type: 'hotp', secret: RFC_SECRET, counter: 1, period: 7 };
    assert.equal(await generateCode(hotp, 123_456_789), '287082');
  });

  test('Steam ignores digits, algorithm and period, as the server normalises them', async () => {
    const steam = { type: 'steam', secret: 'JRZCL47CMXVOQMNPZR2F7J4RGI' };
    const odd = { ...steam, digits: 8, algorithm: 'SHA512', period: 60 };
    assert.equal(await generateCode(odd, 59_000), '9WW3X');
    const code = await generateCode(steam, 1_234_567_000);
    assert.match(code, new RegExp(`^[${STEAM_ALPHABET}]{5}$`));
  });

  test('HOTP counters beyond 2^53 work when given as BigInt', async () => {
    const account = { type: 'hotp', secret: RFC_SECRET, counter: 2n ** 63n - 1n };
    assert.match(await generateCode(account), /^\d{6}$/);
  });

  const invalid = [
    ['type', { type: 'yubikey' }],
    ['pin', { type: 'motp' }],
    ['pin', { type: 'yandex', secret: 'LA2V6KMCGYMWWVEW64RNP3JA3I' }],
    ['pin', { type: 'motp', pin: 'x'.repeat(65) }],
    ['pin', { type: 'motp', pin: '12\n34' }],
    ['secret', { type: 'yandex', secret: RFC_SECRET, pin: '1234' }],
    ['type', { type: 'TOTP' }],
    ['algorithm', { algorithm: 'MD5' }],
    ['digits', { digits: 4 }],
    ['digits', { digits: 11 }],
    ['digits', { digits: 6.5 }],
    ['period', { period: 0 }],
    ['period', { period: 86_401 }],
    ['period', { period: '30' }],
    ['secret', { secret: '' }],
    ['secret', { secret: 'A'.repeat(416) }], // 260 bytes
  ];
  for (const [field, change] of invalid) {
    test(`refuses ${JSON.stringify(change).slice(0, 40)} naming ${field}`, async () => {
      const account = { type: 'totp', secret: RFC_SECRET, ...change };
      await assert.rejects(generateCode(account, 0), (err) => {
        assert.ok(err instanceof InvalidParameterError);
        assert.equal(err.field, field);
        return true;
      });
    });
  }

  test('refuses HOTP counters that are negative, too large or inexact', async () => {
    for (const counter of [-1, 2n ** 63n, 2 ** 53, 1.5]) {
      await assert.rejects(generateCode({ type: 'hotp', secret: RFC_SECRET, counter }), { field: 'counter' });
    }
  });

  test('refuses a time before 1970 rather than wrapping the counter', async () => {
    await assert.rejects(generateCode({ type: 'totp', secret: RFC_SECRET }, -1), { field: 'time' });
    await assert.rejects(generateCode({ type: 'totp', secret: RFC_SECRET }, Number.NaN), { field: 'time' });
  });
});

// Aegis's own vectors (beemdevelopment/Aegis: MOTPTest, YAOTPTest, YandexInfoTest), the same
// that tests/unit/test_otp_pins.py checks on the server.
describe('mOTP and Yandex, as Aegis computes them', () => {
  const hexToBase32 = (hex) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const bits = [...hex].map((digit) => parseInt(digit, 16).toString(2).padStart(4, '0')).join('');
    return bits.match(/.{1,5}/g).map((chunk) => alphabet[parseInt(chunk.padEnd(5, '0'), 2)]).join('');
  };
  const motp = [
    [165892298, 'e7d8b6', '1234', 'e3152afee62599c8'],
    [123456789, '4ebfb2', '1234', 'e3152afee62599c8'],
    [165954002 * 10, 'ced7b1', '9999', 'bbb1912bb5c515be'],
    [165954002 * 10 + 2, 'ced7b1', '9999', 'bbb1912bb5c515be'],
    [165953987 * 10, '1a14f8', '9999', 'bbb1912bb5c515be'],
    [165953987 * 10 + 8, '1a14f8', '9999', 'bbb1912bb5c515be'],
  ];
  for (const [time, code, pin, secret] of motp) {
    test(`mOTP ${secret} PIN ${pin} t=${time} -> ${code}`, async () => {
      const account = { type: 'motp', secret: hexToBase32(secret), pin, algorithm: 'MD5', digits: 6, period: 10 };
      assert.equal(await generateCode(account, time * 1000), code);
    });
  }

  const yandex = [
    ['5239', '6SB2IKNM6OBZPAVBVTOHDKS4FAAAAAAADFUTQMBTRY', 1641559648, 'umozdicq'],
    ['7586', 'LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI', 1581064020, 'oactmacq'],
    ['7586', 'LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI', 1581090810, 'wemdwrix'],
    ['5210481216086702', 'JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M', 1581091469, 'dfrpywob'],
    ['5210481216086702', 'JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M', 1581093059, 'vunyprpd'],
  ];
  for (const [pin, secret, time, code] of yandex) {
    test(`Yandex PIN ${pin} t=${time} -> ${code}, typed with its checksum or as a QR code gives it`, async () => {
      assert.equal(await generateCode({ type: 'yandex', secret, pin }, time * 1000), code);
      assert.equal(await generateCode({ type: 'yandex', secret: secret.slice(0, 26), pin }, time * 1000), code);
    });
  }

  test("a Yandex secret's checksum is checked as Aegis checks it", async () => {
    const account = { type: 'yandex', pin: '7586' };
    await assert.rejects(
      generateCode({ ...account, secret: 'AA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI' }, 0),
      { field: 'secret', message: /checksum/ },
    );
    await assert.rejects(generateCode({ ...account, secret: 'AA2V6KMCGJA3IAAAAAAHTSG4HRZPI' }, 0), {
      field: 'secret',
      message: /16 or 26 bytes, not 18/,
    });
  });

  test('mOTP and Yandex ignore the algorithm, digits and period they are given', async () => {
    const odd = { algorithm: 'SHA1', digits: 8, period: 30 };
    const account = { type: 'motp', secret: hexToBase32('e3152afee62599c8'), pin: '1234', ...odd };
    assert.equal(await generateCode(account, 165892298_000), 'e7d8b6');
  });
});

describe('decodeBase32', () => {
  test('decodes RFC 4648 test vectors, padded or not', () => {
    const cases = [
      ['MY', 'f'],
      ['MZXQ', 'fo'],
      ['MZXW6', 'foo'],
      ['MZXW6YQ', 'foob'],
      ['MZXW6YTB', 'fooba'],
      ['MZXW6YTBOI', 'foobar'],
      ['MZXW6YTBOI======', 'foobar'],
      ['MY======', 'f'],
    ];
    for (const [encoded, plain] of cases) {
      assert.deepEqual(decodeBase32(encoded), bytes(plain), encoded);
    }
  });

  test('is lenient about case, spaces, dashes and padding', () => {
    const want = bytes('12345678901234567890');
    for (const text of [
      'gezdgnbvgy3tqojqgezdgnbvgy3tqojq',
      'GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ',
      'gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq',
      ' GEZDGNBVGY3TQOJQ\tGEZDGNBVGY3TQOJQ\n',
      'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====',
    ]) {
      assert.deepEqual(decodeBase32(text), want, JSON.stringify(text));
    }
  });

  test('decodes an 80-bit secret to 10 bytes', () => {
    assert.equal(decodeBase32('JBSWY3DPEHPK3PXP').length, 10);
  });

  test('ignores leftover bits after the last whole byte', () => {
    // "MZ" carries 10 bits: 8 for "f" and 2 that Python's b32decode ignores as well.
    assert.deepEqual(decodeBase32('MZ'), bytes('f'));
  });

  test('refuses an empty secret', () => {
    for (const text of ['', '   ', '====', '- -']) {
      assert.throws(() => decodeBase32(text), { field: 'secret', message: /empty/ });
    }
  });

  test('refuses characters outside A-Z and 2-7, naming them', () => {
    assert.throws(() => decodeBase32('GEZD0GNB'), { field: 'secret', message: /'0'/ });
    assert.throws(() => decodeBase32('GEZD18NB'), { field: 'secret', message: /'18'/ });
    assert.throws(() => decodeBase32('GEZDGN_V'), { field: 'secret', message: /'_'/ });
  });

  test('refuses non-ASCII before upper-casing, as the server does', () => {
    // 'ß'.toUpperCase() is 'SS': without the check, 'GEZDGNß' would read as 'GEZDGNSS'.
    for (const text of ['GEZDGNß', 'GEZDGNB\u00e9', 'GEZD😀GN']) {
      assert.throws(() => decodeBase32(text), { field: 'secret', message: /only the letters A-Z/ }, text);
    }
  });

  test('refuses lengths that cannot encode whole bytes', () => {
    for (const text of ['A', 'ABC', 'ABCDEF', 'ABCDEFGHA']) {
      assert.throws(() => decodeBase32(text), { field: 'secret', message: /whole bytes/ });
    }
  });

  test('refuses what is not a string', () => {
    assert.throws(() => decodeBase32(undefined), InvalidParameterError);
    assert.throws(() => decodeBase32(new Uint8Array(10)), InvalidParameterError);
  });
});

describe('secondsRemaining', () => {
  test('counts down to the next boundary with millisecond precision', () => {
    assert.equal(secondsRemaining(30, 0), 30);
    assert.equal(secondsRemaining(30, 1_000), 29);
    assert.equal(secondsRemaining(30, 29_999), 0.001);
    assert.equal(secondsRemaining(30, 30_000), 30);
    assert.equal(secondsRemaining(30, 1_700_000_012_500), 27.5);
  });

  test('works for any period', () => {
    assert.equal(secondsRemaining(50, 1_000), 49);
    assert.equal(secondsRemaining(7, 20_000), 1);
    assert.equal(secondsRemaining(86_400, 86_399_000), 1);
  });

  test('stays within (0, period] for times before 1970', () => {
    assert.equal(secondsRemaining(30, -1_000), 1);
  });

  test('refuses a period that is not a positive whole number', () => {
    for (const period of [0, -30, 1.5, '30']) {
      assert.throws(() => secondsRemaining(period, 0), { field: 'period' });
    }
  });
});
