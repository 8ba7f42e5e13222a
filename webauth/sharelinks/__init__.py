"""Time-limited share links: one account's live code, shown for 2, 10 or 60 minutes to whoever
holds the link, without signing in (links.py: made, listed, revoked; viewing.py: what a holder sees).

The link is a bearer secret, so it lives only in the URL's fragment (`/s#<token>`), which
browsers never send: no access log, proxy or Referer header ever carries it. The page's script
posts the token to fetch the code. The server keeps a keyed digest of the token, never the token.
"""
