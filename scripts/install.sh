#!/usr/bin/env bash
# Create .venv and install chefoskop from the hash-pinned lock file.
#   scripts/install.sh          runtime dependencies (requirements.lock)
#   scripts/install.sh --dev    runtime + test dependencies (requirements-dev.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements.lock
[ "${1:-}" = "--dev" ] && lock=requirements-dev.lock
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing dependencies from $lock ..." >&2
  .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r "$lock" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  .venv/bin/python -m pip install --quiet --no-deps -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  touch "$stamp"
fi
