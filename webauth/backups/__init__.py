"""Scheduled backups of each user's vault, in the Aegis format, written by the server (docs/backups.md).

`plan` keeps a user's backup password as an Aegis password slot and a sealed master key,
`files` and `webdav` are the targets, `run` writes the backups, `status` says in words how they
went, and `instance` is the administrator's backup of the whole instance (database and keyring).
"""
