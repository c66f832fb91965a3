#!/usr/bin/env bash
# README command 1: install, then run chefoskop on embedded defaults
# (SQLite in ./data, Prefect in-process, mail caught by the local sink in ./data/mail).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
chefoskop db upgrade
chefoskop demo
if chefoskop --help | grep -q " serve "; then
  exec chefoskop serve
fi
chefoskop simulate --organisations 1 --managers 12 --seed 1
chefoskop mail list | tail -n 20
