"""The server's codes (webauth/otp.py) and the browser's (static/js/otp.js) agree on mOTP and
Yandex accounts drawn at random: secrets, PINs in any script, times, and Yandex secrets typed
with a checksum (almost all wrong, so both must refuse the same ones). The JS runs under node,
exactly the module the offline page imports."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from webauth.otp import MAX_PIN_LENGTH, InvalidParameter, OtpParams, OtpType, code_at
from webauth.otpauth import encode_secret

MODULE = Path(__file__).resolve().parents[1] / "static" / "js" / "otp.js"

# Reads [{account, now_ms}] on stdin; prints [{code} | {error: field}] in the same order.
NODE_SCRIPT = f"""
import {{ readFileSync }} from 'node:fs';
import {{ generateCode }} from {json.dumps(MODULE.as_uri())};
const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const {{ account, now_ms }} of cases) {{
  try {{
    out.push({{ code: await generateCode(account, now_ms) }});
  }} catch (err) {{
    if (err.name !== 'InvalidParameterError') throw err;
    out.push({{ error: err.field }});
  }}
}}
console.log(JSON.stringify(out));
"""

# PINs in any script, a few just over the limit; the long ones of characters outside the BMP,
# where counting UTF-16 units instead of code points would go wrong.
printable = st.characters(blacklist_categories=("Cc", "Cs"))
pins = st.text(printable, min_size=1, max_size=MAX_PIN_LENGTH + 2) | st.text(
    st.characters(min_codepoint=0x10000, max_codepoint=0x1FFFF, blacklist_categories=("Cn", "Co", "Cs")),
    min_size=MAX_PIN_LENGTH // 2 + 1,
    max_size=MAX_PIN_LENGTH + 1,
)
accounts = st.one_of(
    st.fixed_dictionaries({"type": st.just("motp"), "secret": st.binary(min_size=1, max_size=64), "pin": pins}),
    st.fixed_dictionaries(
        {
            "type": st.just("yandex"),
            "secret": st.binary(min_size=16, max_size=16) | st.binary(min_size=26, max_size=26),
            "pin": pins,
        }
    ),
)
cases = st.lists(st.tuples(accounts, st.integers(0, 2**42)), min_size=1, max_size=40)


def python_outcome(account: dict, now_ms: int) -> dict:
    try:
        params = OtpParams(OtpType(account["type"]), account["secret"], pin=account["pin"])
        return {"code": code_at(params, now_ms / 1000)}
    except InvalidParameter as error:
        return {"error": error.field}


def js_outcomes(batch: list[tuple[dict, int]]) -> list[dict]:
    request = [
        {"account": {**account, "secret": encode_secret(account["secret"])}, "now_ms": now_ms}
        for account, now_ms in batch
    ]
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@settings(max_examples=25, deadline=None)
@given(cases)
def test_python_and_javascript_give_the_same_codes(batch):
    assert js_outcomes(batch) == [python_outcome(account, now_ms) for account, now_ms in batch]


def test_the_comparison_sees_aegis_vectors_and_a_valid_checksum():
    """Random 26-byte Yandex secrets almost never pass the checksum: this pins the accepted path
    (and the comparison itself) on Aegis's vectors, for both languages at once."""
    batch = [
        ({"type": "motp", "secret": bytes.fromhex("e3152afee62599c8"), "pin": "1234"}, 165892298_000),
        ({"type": "motp", "secret": bytes.fromhex("bbb1912bb5c515be"), "pin": "9999"}, 1659539878_000),
        (
            {"type": "yandex", "secret": _b32("LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI"), "pin": "7586"},
            1581064020_000,
        ),
        (
            {"type": "yandex", "secret": _b32("JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M"), "pin": "5210481216086702"},
            1581093059_000,
        ),
        ({"type": "yandex", "secret": _b32("AA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI"), "pin": "7586"}, 0),
        ({"type": "motp", "secret": b"\x01", "pin": ""}, 0),
    ]
    expected = [
        {"code": "e7d8b6"},
        {"code": "1a14f8"},
        {"code": "oactmacq"},
        {"code": "vunyprpd"},
        {"error": "secret"},
        {"error": "pin"},
    ]
    assert [python_outcome(account, now_ms) for account, now_ms in batch] == expected
    assert js_outcomes(batch) == expected


def _b32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))
