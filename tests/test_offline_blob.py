"""The browser's offline blob, opened in Python: proof that docs/offline-blob.md, the JS
module and standard PBKDF2 + AES-GCM agree. The blobs are written by running
static/js/offline-crypto.js under node, exactly as the browser runs it."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tests.support.offline_blob import OfflineBlobError, WrongPinError, open_offline_blob

MODULE = Path(__file__).resolve().parents[1] / "static" / "js" / "offline-crypto.js"

# Reads {"op", "vault" | "blob", "pin"} on stdin; prints the blob, the vault or the error's name.
NODE_SCRIPT = f"""
import {{ readFileSync }} from 'node:fs';
import {{ openVault, sealVault }} from {json.dumps(MODULE.as_uri())};
const request = JSON.parse(readFileSync(0, 'utf8'));
try {{
  const result = request.op === 'seal'
    ? await sealVault(request.vault, request.pin)
    : await openVault(request.blob, request.pin);
  console.log(JSON.stringify({{ ok: result }}));
}} catch (err) {{
  console.log(JSON.stringify({{ error: err.name }}));
}}
"""

PIN = "731904"
VAULT = {
    "version": 1,
    "created_ms": 1_700_000_000_000,
    "server_offset_ms": 842,
    "accounts": [
        {
            "uuid": "5a2b8c1e-8e3f-4f0a-9c55-3b1f2e4d6a70",
            "type": "steam",
            "issuer": "Steam",
            "name": "gabe",
            "secret": "JRZCL47CMXVOQMNPZR2F7J4RGI",
            "algorithm": "SHA1",
            "digits": 5,
            "period": 30,
            "counter": 0,
            "next_code": None,
        },
        {
            "uuid": "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b",
            "type": "hotp",
            "issuer": "Bänk «test»",
            "name": "名前",
            "secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "algorithm": "SHA256",
            "digits": 8,
            "period": 30,
            "counter": 12,
            "next_code": "12345678",
        },
    ],
}


def run_node(request: dict) -> dict:
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def js_seal(vault: dict, pin: str) -> dict:
    return run_node({"op": "seal", "vault": vault, "pin": pin})["ok"]


@pytest.fixture(scope="module")
def blob() -> dict:
    return js_seal(VAULT, PIN)


def test_a_blob_written_by_the_browser_code_opens_in_python(blob):
    assert open_offline_blob(blob, PIN) == VAULT


def test_the_blob_has_the_documented_shape(blob):
    assert blob["format"] == "webauth-offline"
    assert blob["version"] == 1
    assert blob["kdf"]["name"] == "PBKDF2-SHA256"
    assert blob["kdf"]["iterations"] == 600_000
    assert len(base64.b64decode(blob["kdf"]["salt"], validate=True)) == 16
    assert blob["cipher"]["name"] == "AES-256-GCM"
    assert len(base64.b64decode(blob["cipher"]["nonce"], validate=True)) == 12


def test_the_documented_key_and_associated_data_open_it_by_hand(blob):
    """Follows docs/offline-blob.md step by step, without the reader, and shows the AAD is
    really checked: the same key and nonce with no associated data fail."""
    salt = base64.b64decode(blob["kdf"]["salt"])
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=600_000).derive(PIN.encode())
    nonce = base64.b64decode(blob["cipher"]["nonce"])
    data = base64.b64decode(blob["ciphertext"])
    aad = f"webauth-offline|1|PBKDF2-SHA256|600000|{blob['kdf']['salt']}|AES-256-GCM".encode()
    assert json.loads(AESGCM(key).decrypt(nonce, data, aad)) == VAULT
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(nonce, data, None)


def test_the_example_blob_in_the_document_opens():
    text = (Path(__file__).resolve().parents[1] / "docs" / "offline-blob.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.DOTALL).group(1))
    assert example["format"] == "webauth-offline"
    assert open_offline_blob(example, "123456") == {"a": 1}


def test_a_wrong_pin_fails_in_python(blob):
    with pytest.raises(WrongPinError):
        open_offline_blob(blob, "731905")


def test_a_wrong_pin_fails_in_javascript(blob):
    assert run_node({"op": "open", "blob": blob, "pin": "000000"}) == {"error": "WrongPinError"}
    assert run_node({"op": "open", "blob": blob, "pin": PIN}) == {"ok": VAULT}


def test_the_pin_is_normalised_to_nfc_in_both_languages():
    decomposed = unicodedata.normalize("NFD", "pïn-çødé")
    assert decomposed != "pïn-çødé"
    sealed = js_seal({"accounts": []}, decomposed)
    assert open_offline_blob(sealed, "pïn-çødé") == {"accounts": []}


def _flip_first_byte(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("path", "change"),
    [
        (("kdf", "iterations"), lambda v: v + 1),
        (("kdf", "salt"), _flip_first_byte),
        (("cipher", "nonce"), _flip_first_byte),
        (("ciphertext",), _flip_first_byte),
    ],
    ids=["iterations", "salt", "nonce", "ciphertext"],
)
def test_tampering_fails_like_a_wrong_pin(blob, path, change):
    tampered = copy.deepcopy(blob)
    holder = tampered
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = change(holder[path[-1]])
    with pytest.raises(WrongPinError):
        open_offline_blob(tampered, PIN)
    assert run_node({"op": "open", "blob": tampered, "pin": PIN}) == {"error": "WrongPinError"}


@pytest.mark.parametrize(
    "edit",
    [
        {"format": "aegis"},
        {"version": 2},
        {"version": True},
        {"kdf": {"name": "PBKDF2-SHA1", "iterations": 600_000, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}},
        {"kdf": {"name": "PBKDF2-SHA256", "iterations": 1000, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}},
        {"kdf": {"name": "PBKDF2-SHA256", "iterations": 10**12, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}},
        {"kdf": {"name": "PBKDF2-SHA256", "iterations": "600000", "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}},
        {"kdf": {"name": "PBKDF2-SHA256", "iterations": 600_000, "salt": "AAAA"}},
        {"kdf": {"name": "PBKDF2-SHA256", "iterations": 600_000, "salt": "not base64!"}},
        {"cipher": {"name": "AES-128-GCM", "nonce": "AAAAAAAAAAAAAAAA"}},
        {"cipher": None},
        {"ciphertext": "AAAA"},
        {"ciphertext": 42},
    ],
)
def test_malformed_blobs_are_refused_as_such_not_as_a_wrong_pin(blob, edit):
    broken = {**copy.deepcopy(blob), **edit}
    with pytest.raises(OfflineBlobError) as caught:
        open_offline_blob(broken, PIN)
    assert not isinstance(caught.value, WrongPinError)
    assert run_node({"op": "open", "blob": broken, "pin": PIN}) == {"error": "BlobFormatError"}


def test_not_a_dict_is_refused():
    with pytest.raises(OfflineBlobError):
        open_offline_blob([], PIN)  # type: ignore[arg-type]
