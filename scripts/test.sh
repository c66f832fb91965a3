#!/usr/bin/env bash
# README command 2: install everything the tests need, then run the whole suite
# on SQLite and on PostgreSQL (127.0.0.1:5432, started here if it is not running).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
export PATH="$PWD/.venv/bin:$PATH"
pg_url=${CHEFOSKOP_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}

pg_ready() { python -c "import psycopg,sys; psycopg.connect('${pg_url/+psycopg/}', connect_timeout=3).close()" 2>/dev/null; }
if ! pg_ready && command -v pg_ctlcluster >/dev/null; then
  echo "Starting PostgreSQL ..." >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi

# Browser tests drive Debian's chromium through Playwright's executable_path (no browser download).
if ! command -v chromium >/dev/null; then
  echo "Installing Debian's chromium for the browser tests ..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "== test suite on SQLite ==" >&2
pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
echo "== test suite on PostgreSQL ==" >&2
if ! pg_ready; then
  echo "PostgreSQL is not reachable at $pg_url: the suite cannot run against it" >&2
  exit 1
fi
CHEFOSKOP_TEST_DATABASE_URL="$pg_url" pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
