"""The fake Casdoor's REST API as webauth uses it: `get-account`, `get-user` and `update-user`,
which replaces the whole user as Casdoor does (fields missing from the body are reset).

A mixin of `CasdoorServer`, whose state (users, tokens, organizations' account items) it uses.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError

from tests.support.casdoor_fake.common import (
    GLOBAL_ADMIN_ORG,
    MSG_FORBIDDEN,
    MSG_LOGIN_FIRST,
    MSG_TOKEN_EXPIRED,
    MSG_TOKEN_UNKNOWN,
    MSG_UNAUTHORIZED,
    Token,
    later_than,
    normalise_mfa_accounts,
    type_error,
    zero_like,
)


class RestEndpoints:
    """The REST endpoints of `CasdoorServer`."""

    def _visible_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(dict(user))
        if user["owner"] in self._mfa_item_off:
            del shown["mfaAccounts"]
        return shown

    def _organization(self, name: str) -> dict[str, Any]:
        items = [{"name": "Display name", "visible": True, "viewRule": "Public", "modifyRule": "Self"}]
        if name not in self._mfa_item_off:
            items.append({"name": "MFA accounts", "visible": True, "viewRule": "Self", "modifyRule": "Self"})
        return {"owner": "admin", "name": name, "accountItems": items}

    def _may_manage(self, caller: Mapping[str, Any], target_key: tuple[str, str]) -> bool:
        if (caller["owner"], caller["name"]) == target_key:
            return True
        return bool(caller["isAdmin"]) and caller["owner"] in {target_key[0], GLOBAL_ADMIN_ORG}

    def _bearer_user(self) -> tuple[dict[str, Any] | None, Token | None, str]:
        """The caller's user and token, or None and Casdoor's message saying why not."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, None, MSG_LOGIN_FIRST
        value = value.strip()
        try:
            jwt.decode(value, self._key, algorithms=["RS256"])
        except (JoseError, ValueError):
            return None, None, MSG_TOKEN_UNKNOWN
        token = self._tokens.get(value)
        if token is None:
            return None, None, MSG_TOKEN_UNKNOWN
        if time.time() >= token.expires_at:
            return None, None, MSG_TOKEN_EXPIRED
        user = self._users.get(token.user_key)
        if user is None:
            return None, None, f"The user: {token.user_key[0]}/{token.user_key[1]} doesn't exist"
        if user["isForbidden"]:
            return None, None, MSG_FORBIDDEN
        return user, token, ""

    def _replace_user(
        self, old: Mapping[str, Any], body: Mapping[str, Any], caller_is_admin: bool
    ) -> dict[str, Any] | str:
        """The user after update-user, or Casdoor's error text."""
        new: dict[str, Any] = {}
        for key, old_value in old.items():
            if key not in body:
                new[key] = zero_like(old_value)
                continue
            error = type_error(key, body[key], old_value)
            if error:
                return error
            new[key] = copy.deepcopy(body[key])
        if not new.get("displayName"):
            return "Display name cannot be empty"
        entries = normalise_mfa_accounts(new.get("mfaAccounts"))
        if isinstance(entries, str):
            return entries
        new["mfaAccounts"] = entries
        kept = ["owner", "name", "id", "createdTime", "password", "signupApplication"]
        if not caller_is_admin:
            kept += ["isAdmin", "isForbidden", "type"]
        if old["owner"] in self._mfa_item_off:
            kept.append("mfaAccounts")
        for key in kept:
            new[key] = copy.deepcopy(old[key])
        new["updatedTime"] = later_than(old["updatedTime"])
        return new

    def _get_account(self) -> Response:
        with self._lock:
            user, _, message = self._bearer_user()
            if user is None:
                return jsonify(status="error", msg=message, data=None)
            return jsonify(
                status="ok",
                msg="",
                sub=user["id"],
                name=user["name"],
                data=self._visible_user(user),
                data2=self._organization(user["owner"]),
            )

    def _get_user(self) -> Response:
        with self._lock:
            caller, _, message = self._bearer_user()
            if caller is None:
                return jsonify(status="error", msg=message, data=None)
            owner, _, name = request.args.get("id", "").partition("/")
            if not self._may_manage(caller, (owner, name)):
                return jsonify(status="error", msg=MSG_UNAUTHORIZED, data=None)
            target = self._users.get((owner, name))
            if target is None:
                return jsonify(status="error", msg=f"The user: {owner}/{name} doesn't exist", data=None)
            return jsonify(status="ok", msg="", data=self._visible_user(target))

    def _update_user(self) -> Response:
        with self._lock:
            caller, _, message = self._bearer_user()
            if caller is None:
                return jsonify(status="error", msg=message, data=None)
            user_id = request.args.get("id") or f"{caller['owner']}/{caller['name']}"
            owner, _, name = user_id.partition("/")
            if not self._may_manage(caller, (owner, name)):
                return jsonify(status="error", msg=MSG_UNAUTHORIZED, data=None)
            old = self._users.get((owner, name))
            if old is None:
                return jsonify(status="error", msg=f"The user: {user_id} doesn't exist", data=None)
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                return jsonify(status="error", msg="unexpected end of JSON input", data=None)
            new = self._replace_user(old, body, caller_is_admin=bool(caller["isAdmin"]))
            if isinstance(new, str):
                return jsonify(status="error", msg=new, data=None)
            self._users[(owner, name)] = new
            return jsonify(status="ok", msg="", data="Affected")
