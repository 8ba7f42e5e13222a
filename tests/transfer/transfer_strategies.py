"""Hypothesis strategies for the transfer tests: valid accounts, and JSON documents bent out of shape."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from webauth.otp import HMAC_ALGORITHMS, MAX_COUNTER, MAX_PERIOD, MAX_PIN_LENGTH, OtpParams, OtpType
from webauth.otpauth import AccountSpec

# Text an account may hold: anything printable, no control characters or lone surrogates.
label_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
note_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"), max_size=60)
secret_bytes = st.binary(min_size=1, max_size=40)
# A PIN as people set them (mOTP: 4 digits, Yandex 4 to 16) and as the limits allow.
pins = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=MAX_PIN_LENGTH)
yandex_params = st.builds(OtpParams, type=st.just(OtpType.YANDEX), secret=st.binary(min_size=16, max_size=16), pin=pins)
motp_params = st.builds(OtpParams, type=st.just(OtpType.MOTP), secret=secret_bytes, pin=pins)

# What an otpauth link holds whole: every type but mOTP, whose link never holds the PIN.
link_params = st.one_of(
    st.builds(
        OtpParams,
        type=st.just(OtpType.TOTP),
        secret=secret_bytes,
        algorithm=st.sampled_from(HMAC_ALGORITHMS),
        digits=st.integers(5, 10),
        period=st.integers(1, MAX_PERIOD),
    ),
    st.builds(
        OtpParams,
        type=st.just(OtpType.HOTP),
        secret=secret_bytes,
        algorithm=st.sampled_from(HMAC_ALGORITHMS),
        digits=st.integers(5, 10),
        counter=st.integers(0, MAX_COUNTER),
    ),
    st.builds(OtpParams, type=st.just(OtpType.STEAM), secret=secret_bytes),
    yandex_params,
)
otp_params = st.one_of(link_params, motp_params)


@st.composite
def account_specs(draw: st.DrawFn, params: st.SearchStrategy[OtpParams] = otp_params, full: bool = True) -> AccountSpec:
    """A valid account; with `full`, also a note, groups, favorite and an icon."""
    issuer, name = draw(label_text), draw(label_text)
    assume(issuer.strip() or name.strip())
    if not full:
        return AccountSpec(issuer=issuer, name=name, params=draw(params))
    icon = draw(
        st.none() | st.tuples(st.binary(min_size=1, max_size=40), st.sampled_from(["image/png", "image/svg+xml"]))
    )
    return AccountSpec(
        issuer=issuer,
        name=name,
        params=draw(params),
        note=draw(note_text),
        groups=tuple(draw(st.lists(label_text, max_size=3))),
        favorite=draw(st.booleans()),
        icon=icon[0] if icon else None,
        icon_mime=icon[1] if icon else None,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*path, index))
    return found


@st.composite
def json_mutated(draw: st.DrawFn, document: Any) -> bytes:
    """`document` with one to three values (or the whole) replaced by arbitrary JSON, encoded as UTF-8."""
    doc = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        value = draw(json_values)
        if not path:
            doc = value
            continue
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return json.dumps(doc).encode("utf-8")
