"""A WebAuthn authenticator in software, for tests that need answers a real one never gives.

Chromium's virtual authenticator (the browser tests use it) always tells the truth: it
cannot be told to sign for another origin or to count backwards. This one can. It does what
an authenticator does, with real cryptography: an ECDSA P-256 key pair per credential, the
authenticator data of the WebAuthn specification (§6.1), a "none" attestation in CBOR, and
assertions signed over `authenticatorData || SHA-256(clientDataJSON)`. The browser's part
(clientDataJSON with the challenge and the origin) is played here too, and the answers are
the JSON that `PublicKeyCredential.toJSON()` gives, as static/js/passkeys.js posts it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )


@dataclass
class SoftAuthenticator:
    """Holds credentials like a phone's passkey store; `origin` is the page the browser is on."""

    origin: str = "http://localhost"
    aaguid: bytes = bytes(16)
    counts: bool = True  # some authenticators (synced passkeys) always report 0
    credentials: list[Credential] = field(default_factory=list)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    @staticmethod
    def _auth_data(rp_id: str, flags: int, count: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count) + attested

    def create(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        credential_id: bytes | None = None,
    ) -> dict:
        """Answer registration options (as the server sent them) with a new credential
        (`credential_id`: with that id, as an authenticator ignoring the exclusion list would)."""
        rp_id = rp_id or options["rp"]["id"]
        credential = Credential(
            id=credential_id or os.urandom(32), key=ec.generate_private_key(ec.SECP256R1()), rp_id=rp_id,
            user_handle=from_b64url(options["user"]["id"]),
        )
        self.credentials.append(credential)
        attested = self.aaguid + struct.pack(">H", len(credential.id)) + credential.id + credential.cose_public_key()
        flags = UP | AT | (UV if uv else 0)
        auth_data = self._auth_data(rp_id, flags, credential.sign_count, attested)
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict,
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict:
        """Answer authentication options with a signed assertion.

        By default the first credential, its count one higher, the user verified. `count`
        sets the count reported (a clone's), `origin` and `rp_id` what the page and the
        signed data claim, `user_handle` the handle returned.
        """
        credential = credential or self.credentials[0]
        if count is None:
            if self.counts:
                credential.sign_count += 1
            count = credential.sign_count
        auth_data = self._auth_data(rp_id or credential.rp_id, UP | (UV if uv else 0), count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle if user_handle is not None else credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
