"""gunicorn's settings for the systemd unit (deploy/systemd/webauth.service).

Workers come from WEB_CONCURRENCY (set in /etc/webauth/webauth.env; gunicorn's own variable,
which `flask doctor` reads too): more than one process needs the rate-limit counters in
Redis (WEBAUTH_RATELIMIT_STORAGE_URL).
"""

import os

# Loopback only: nginx on this machine is the one way in (WEBAUTH_PROXY_HOPS=1 believes it).
bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
# Each worker holds at most this many connections; more wait in the socket's queue. With
# gunicorn's default (1,000) one worker could take most keep-alive connections and serve them on one
# core while the other idled (docs/configuration.md, CONNECTIONS).
worker_connections = 8
# Long enough for a sync with a slow Casdoor (three tries of WEBAUTH_CASDOOR_TIMEOUT).
timeout = 60
graceful_timeout = 30
# Only nginx's X-Forwarded-Proto decides the scheme gunicorn reports.
forwarded_allow_ips = "127.0.0.1"
# The access log to the journal, without query strings or referrers: the return from Casdoor
# carries a one-time authorization code in its query string. The client is the address nginx
# saw (it replaces any X-Forwarded-For a client sends).
accesslog = "-"
access_log_format = '%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'
