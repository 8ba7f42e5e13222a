"""Passkeys (WebAuthn): signing in without a password, and confirming it is you.

- `relying_party`: the relying party id and origin every ceremony is checked against, from
  `WEBAUTH_PUBLIC_URL` (or each request, when it is not set).
- `challenges`: single-use challenges kept in the database, bound to what asked for them.
- `credentials`: registering, listing, naming and removing a user's passkeys, verifying
  their answers (with the `webauthn` library), and the "passkey only" switch.

The browser's half is static/js/passkeys.js. Passkeys are for users with a password here
(local users): a Casdoor or single sign-on user proves who they are elsewhere.
"""
