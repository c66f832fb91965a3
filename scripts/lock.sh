#!/usr/bin/env bash
# Regenerate the hash-pinned lock files from pyproject.toml (needs uv: pip install uv).
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock -q
uv pip compile pyproject.toml --extra test --extra bench --generate-hashes --python-version 3.11 \
  -o requirements-dev.lock -q
