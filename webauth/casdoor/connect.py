"""Connecting a signed-in user to a Casdoor account: offered first, linked only once confirmed.

Connecting pushes the whole vault into the Casdoor account's `mfaAccounts`, where whoever
can sign in as that account (and Casdoor's administrators) can read the secrets. So the
Casdoor account that came back from Casdoor's sign-in page, or from a login link, is only
*offered* (a `CasdoorConnectOffer` row): the user sees which account it is (owner/name and
display name) and confirms; until then nothing is linked, stored or pushed.

An offer belongs to one user and one browser session (the session record that asked, after a
recent password entry), lives OFFER_MINUTES, and holds the tokens sealed with the user's data
key. The views check who may ask (views/casdoor_connect.py); this module keeps the offer and
turns it into a link.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from webauth import audit, users
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.oidc import Identity, Tokens
from webauth.extensions import db
from webauth.models import CasdoorConnectOffer, SessionRecord, utcnow
from webauth.vault import Vault

OFFER_MINUTES = 10
# The purpose the offer's tokens are sealed for (see Vault.seal_blob): not an account's uuid.
_TOKENS = "casdoor-connect-offer"


def offer(
    vault: Vault, record: SessionRecord, identity: Identity, tokens: Tokens, *, source: str
) -> CasdoorConnectOffer:
    """Offer `identity` to the vault's user, in this session; an earlier offer of theirs is dropped."""
    db.session.execute(
        delete(CasdoorConnectOffer).where(
            (CasdoorConnectOffer.user_id == vault.user.id) | (CasdoorConnectOffer.expires_at <= utcnow())
        )
    )
    sealed = vault.seal_blob(
        _TOKENS,
        json.dumps(
            {
                "access": tokens.access_token,
                "refresh": tokens.refresh_token,
                "expires": tokens.expires_at.timestamp(),
            }
        ).encode(),
    )
    made = CasdoorConnectOffer(
        user_id=vault.user.id,
        session_id=record.id,
        source=source,
        issuer=identity.issuer,
        subject=identity.subject,
        casdoor_id=identity.casdoor_id[:255],
        display_name=identity.display_name[:255],
        is_admin=identity.is_admin,
        tokens_sealed=sealed,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(minutes=OFFER_MINUTES),
    )
    db.session.add(made)
    audit.record("casdoor.connect_offer", user=vault.user, details={"casdoor": made.casdoor_id, "source": source})
    db.session.flush()
    return made


def find(user_id: int, record: SessionRecord, offer_uuid: str) -> CasdoorConnectOffer | None:
    """The user's live offer with this id, made in this very session; None otherwise."""
    return db.session.scalar(
        select(CasdoorConnectOffer).where(
            CasdoorConnectOffer.uuid == offer_uuid,
            CasdoorConnectOffer.user_id == user_id,
            CasdoorConnectOffer.session_id == record.id,
            CasdoorConnectOffer.expires_at > utcnow(),
        )
    )


def accept(vault: Vault, made: CasdoorConnectOffer, record: SessionRecord) -> str:
    """Link the vault's user to the offered Casdoor account and store its tokens (caller commits).

    Raises users.UserError when the account was linked to someone else meanwhile. The
    session's last password entry is spent: connecting is not a re-authentication, and the
    session that results must prove a password again before secrets leave the server.
    Returns the Casdoor account's `owner/name`.
    """
    user = vault.user
    users.link_oidc(user, made.issuer, made.subject)
    organization = made.casdoor_id.partition("/")[0]
    users.apply_casdoor_claims(user, organization, made.casdoor_id, made.display_name, is_admin=made.is_admin)
    saved = json.loads(vault.open_blob(_TOKENS, made.tokens_sealed))
    tokens = Tokens(saved["access"], saved["refresh"], datetime.fromtimestamp(saved["expires"], UTC))
    casdoor_sync.connect(user, vault, made.casdoor_id, tokens)
    users.clear_reauthentication(record)
    audit.record("casdoor.connect", user=user, details={"casdoor": made.casdoor_id, "source": made.source})
    casdoor_id = made.casdoor_id
    db.session.delete(made)
    return casdoor_id


def withdraw(made: CasdoorConnectOffer) -> None:
    """The user said no: the offer and its tokens are gone (caller commits)."""
    db.session.delete(made)
