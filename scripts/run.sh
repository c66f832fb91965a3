#!/usr/bin/env bash
# README command 1: install, then run chefoskop on embedded defaults
# (SQLite in ./data, Prefect in-process, mail caught by the local sink in ./data/mail):
# migrate, seed the demo organisation Västra Söderbotten, and serve the web app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
chefoskop db upgrade
chefoskop demo
exec chefoskop serve "$@"
