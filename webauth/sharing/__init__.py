"""Sharing accounts with people and teams: codes, never secrets (docs/sharing.md).

- `models`: the tables of shares, local teams and their members, and each user's Casdoor groups.
- `teams`: local teams an administrator defines, and the Casdoor groups of each sign-in and sync.
- `rules`: the owner's side: share, unshare, who has access, the ends of shares, the audit.
- `received`: the recipient's side: the accounts shared with them, whose codes come from the
  owner's `Vault`; nothing it hands out holds a secret.

An account shared stays sealed under its owner's data key; the server opens it for a
recipient only to compute a code.
"""
