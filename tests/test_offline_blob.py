"""The browser's offline blob, opened in Python: proof that docs/offline-blob.md, the JS
module and standard PBKDF2, HKDF and AES-GCM agree, for the PIN (versions 1 and 2) and for a
passkey (version 2). The blobs are written by running static/js/offline-crypto.js under
node, exactly as the browser runs it."""

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
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tests.support.offline_blob import (
    OfflineBlobError,
    WrongPasskeyError,
    WrongPinError,
    open_offline_blob,
    passkey_wrapping_key,
)

MODULE = Path(__file__).resolve().parents[1] / "static" / "js" / "offline-crypto.js"

# Reads {"op", "vault" | "blob", "pin"} on stdin; prints the blob, the vault or the error's name.
NODE_SCRIPT = f"""
import {{ readFileSync }} from 'node:fs';
import {{ createSealer, openVault, sealVault, sealWith, unlockVaultWithPasskey }} from {json.dumps(MODULE.as_uri())};
const request = JSON.parse(readFileSync(0, 'utf8'));
const bytes = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'));
const ops = {{
  seal: () => sealVault(request.vault, request.pin),
  open: () => openVault(request.blob, request.pin),
  'seal-passkey': async () => sealWith(await createSealer(request.pin, {{ passkey: {{
    credential: request.credential, rpId: request.rp_id, prfInput: bytes(request.prf_input),
    prfOutput: bytes(request.prf_output) }} }}), request.vault),
  'open-passkey': async () => (await unlockVaultWithPasskey(request.blob, bytes(request.prf_output))).vault,
}};
try {{
  const result = await ops[request.op]();
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


def test_the_version_2_example_in_the_document_opens_with_the_pin_and_the_passkey():
    text = (Path(__file__).resolve().parents[1] / "docs" / "offline-blob.md").read_text(encoding="utf-8")
    version_2 = text[text.index("## Version 2"):]
    example = json.loads(re.search(r"```json\n(.*?)```", version_2, re.DOTALL).group(1))
    assert example["version"] == 2
    assert open_offline_blob(example, "123456") == {"a": 1}
    assert open_offline_blob(example, prf_output=bytes(range(32))) == {"a": 1}


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


# Version 2: the PIN or a passkey ----------------------------------------------------------------

PRF_INPUT = bytes(range(32))
PRF_OUTPUT = bytes(range(100, 132))


@pytest.fixture(scope="module")
def passkey_blob() -> dict:
    request = {
        "op": "seal-passkey", "vault": VAULT, "pin": PIN, "credential": "Y3JlZGVudGlhbA", "rp_id": "localhost",
        "prf_input": PRF_INPUT.hex(), "prf_output": PRF_OUTPUT.hex(),
    }
    return run_node(request)["ok"]


def test_a_passkey_blob_opens_in_python_with_the_pin_or_the_prf_output(passkey_blob):
    assert passkey_blob["version"] == 2 and [slot["kind"] for slot in passkey_blob["keys"]] == ["pin", "passkey"]
    assert open_offline_blob(passkey_blob, PIN) == VAULT
    assert open_offline_blob(passkey_blob, prf_output=PRF_OUTPUT) == VAULT
    with pytest.raises(WrongPinError):
        open_offline_blob(passkey_blob, "731905")
    with pytest.raises(WrongPasskeyError):
        open_offline_blob(passkey_blob, prf_output=bytes(32))
    with pytest.raises(TypeError):
        open_offline_blob(passkey_blob, PIN, prf_output=PRF_OUTPUT)


def test_the_documented_passkey_steps_open_it_by_hand(passkey_blob):
    """docs/offline-blob.md, "Version 2", step by step: HKDF-SHA256 with the info string, the
    slot's associated data, the vault key, the vault's associated data."""
    slot = passkey_blob["keys"][1]
    salt = base64.b64decode(slot["kdf"]["salt"])
    wrapping_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"webauth-offline 2 passkey key-wrapping key"
    ).derive(PRF_OUTPUT)
    assert wrapping_key == passkey_wrapping_key(PRF_OUTPUT, salt)
    aad = "|".join(["webauth-offline", "2", "passkey", "HKDF-SHA256", slot["kdf"]["salt"], slot["prf_input"],
                    slot["credential"], slot["rp_id"], "AES-256-GCM"]).encode()
    vault_key = AESGCM(wrapping_key).decrypt(base64.b64decode(slot["nonce"]), base64.b64decode(slot["wrapped"]), aad)
    data = AESGCM(vault_key).decrypt(
        base64.b64decode(passkey_blob["cipher"]["nonce"]), base64.b64decode(passkey_blob["ciphertext"]),
        b"webauth-offline|2|vault|AES-256-GCM",
    )
    assert json.loads(data) == VAULT
    assert base64.b64decode(slot["prf_input"]) == PRF_INPUT


def test_the_javascript_opens_with_the_prf_output_too(passkey_blob):
    opened = run_node({"op": "open-passkey", "blob": passkey_blob, "prf_output": PRF_OUTPUT.hex()})
    assert opened == {"ok": VAULT}
    wrong = run_node({"op": "open-passkey", "blob": passkey_blob, "prf_output": bytes(32).hex()})
    assert wrong == {"error": "WrongPasskeyError"}


@pytest.mark.parametrize("field", ["credential", "rp_id", "prf_input", "salt", "wrapped"])
def test_a_changed_passkey_slot_fails_like_another_passkey(passkey_blob, field):
    tampered = copy.deepcopy(passkey_blob)
    slot = tampered["keys"][1]
    if field == "credential":
        slot["credential"] = "b3RoZXI"
    elif field == "rp_id":
        slot["rp_id"] = "evil.example"
    elif field == "salt":
        slot["kdf"]["salt"] = _flip_first_byte(slot["kdf"]["salt"])
    else:
        slot[field] = _flip_first_byte(slot[field])
    with pytest.raises(WrongPasskeyError):
        open_offline_blob(tampered, prf_output=PRF_OUTPUT)
    assert open_offline_blob(tampered, PIN) == VAULT


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.pop("keys"),
        lambda b: b["keys"].pop(0),
        lambda b: b["keys"].append(copy.deepcopy(b["keys"][1])),
        lambda b: b["keys"][1].update(kind="password"),
        lambda b: b["keys"][1].update(credential="no base64url"),
        lambda b: b["keys"][1].update(rp_id="a|b"),
        lambda b: b["keys"][1]["kdf"].update(name="HKDF-SHA1"),
        lambda b: b["keys"][0]["kdf"].update(iterations=1000),
        lambda b: b["keys"][0].update(wrapped="AAAA"),
    ],
    ids=["no-keys", "no-pin", "two-passkeys", "unknown-kind", "credential", "rp-id", "hkdf", "iterations", "wrapped"],
)
def test_malformed_version_2_blobs_are_refused_as_such(passkey_blob, edit):
    broken = copy.deepcopy(passkey_blob)
    edit(broken)
    with pytest.raises(OfflineBlobError) as caught:
        open_offline_blob(broken, PIN)
    assert not isinstance(caught.value, WrongPinError)
    assert run_node({"op": "open", "blob": broken, "pin": PIN}) == {"error": "BlobFormatError"}
