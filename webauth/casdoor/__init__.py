"""Casdoor: the REST client for the calls webauth makes, and the pure three-way merge of a
user's TOTP accounts with the `mfaAccounts` list of their Casdoor user.

`client` does I/O and maps every failure to one exception hierarchy with messages fit for
the user; `merge` does no I/O at all, so the sync service can be tested scenario by scenario.
"""
