#!/usr/bin/env bash
# Install (from Debian's packages) and start the services the PostgreSQL and Redis test
# runs need, then create the test database. Idempotent; needs root, as CI and dev machines have.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

version=$(ls /etc/postgresql | sort -n | tail -1)
pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='webauth'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE webauth LOGIN PASSWORD 'webauth'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='webauth_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O webauth webauth_test"

redis-cli ping >/dev/null 2>&1 || redis-server --daemonize yes --save '' --appendonly no >/dev/null
echo "postgresql+psycopg://webauth:webauth@127.0.0.1:5432/webauth_test"
