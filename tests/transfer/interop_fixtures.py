"""The interop samples (`tests/fixtures/interop`, see SOURCES.md there) and their expectations.

`expected.json` lists test vectors and, for each file, how many entries it holds: every
imported entry must match exactly one vector by secret, with the same type, name, issuer,
algorithm, digits and period (timed types) or counter (HOTP).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.conftest import INTEROP
from webauth.otpauth import encode_secret
from webauth.transfer.base import ImportedEntry

# The format each fixture is in, by `format_id`.
FORMAT_OF = {
    "plain.txt": "otpauth",
    "aegis_plain.json": "aegis",
    "aegis_encrypted.json": "aegis",
    "2fas_authenticator_plain_v4.2fas": "2fas",
    "2fas_authenticator_encrypted_v4.2fas": "2fas",
    "andotp_plain.json": "andotp",
    "bitwarden.json": "bitwarden_json",
    "bitwarden_authenticator_plain.json": "bitwarden_authenticator",
    "ente_auth.txt": "ente",
    "freeotp_plus.json": "freeotp_plus",
    "proton_authenticator.json": "proton",
    "microsoft_authenticator.sqlite": "microsoft_authenticator",
    "stratum_plain.json": "stratum",
    "google_migration_example.txt": "google_migration",
    "google_migration_example.png": "qr_image",
    "google_migration_bad_prefix.txt": "google_migration",
}


@cache
def expected() -> dict[str, Any]:
    return json.loads((INTEROP / "expected.json").read_text(encoding="utf-8"))


def fixture(name: str) -> bytes:
    return (INTEROP / name).read_bytes()


def vector_for(entry: ImportedEntry) -> dict[str, Any]:
    """The one vector whose secret is the entry's."""
    assert entry.spec is not None, f"{entry.source}: {entry.problem}"
    secret = encode_secret(entry.spec.params.secret)
    matches = [vector for vector in expected()["vectors"] if vector["secret"] == secret]
    assert len(matches) == 1, f"{entry.source}: {len(matches)} vectors have this secret"
    return matches[0]


def as_vector(entry: ImportedEntry) -> dict[str, Any]:
    """The entry in the vocabulary of expected.json, with only the fields that apply to its type."""
    assert entry.spec is not None, f"{entry.source}: {entry.problem}"
    params = entry.spec.params
    fields: dict[str, Any] = {
        "type": params.type.value,
        "secret": encode_secret(params.secret),
        "algorithm": params.algorithm.value,
        "digits": params.digits,
        "name": entry.spec.name,
        "issuer": entry.spec.issuer,
    }
    if params.type.value == "hotp":
        fields["counter"] = params.counter
    else:
        fields["period"] = params.period
    return fields


def assert_matches_vectors(
    file_name: str,
    entries: list[ImportedEntry],
    adjust: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Each entry equals its vector (after `adjust`, for a file's documented notes), each vector once."""
    assert len(entries) == expected()["files"][file_name]["count"]
    secrets = set()
    for entry in entries:
        vector = dict(vector_for(entry))
        if adjust is not None:
            vector = adjust(vector)
        assert as_vector(entry) == vector, entry.source
        secrets.add(vector["secret"])
    assert len(secrets) == len(entries), "two entries matched the same vector"


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` truncated, with bytes flipped, or with a slice removed or duplicated."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["truncate", "flip", "delete", "duplicate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def fuzz(examples: int) -> settings:
    """The settings of a fuzzing test: `examples` drawn, fewer when WEBAUTH_FUZZ_EXAMPLES says so.

    `make mutation` runs the tests once per mutant, so it caps the examples (a mutant such a test
    kills is usually killed by the first few); CI and developers draw them all.
    """
    cap = int(os.environ.get("WEBAUTH_FUZZ_EXAMPLES", examples))
    return settings(max_examples=min(examples, cap), deadline=None, suppress_health_check=[HealthCheck.too_slow])


STRUCTURED = fuzz(50)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=24),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def shaped(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects using a format's own key names with values of any JSON type.

    Random bytes rarely get past a JSON parser; these reach the code that reads each field.
    Generating them is slower than reading them, so tests use fewer examples (`STRUCTURED`).
    """
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))
