#!/usr/bin/env bash
# Build the benchmark-only environments, never the project venv:
#   bench/.venv-bench    numpy/pandas as the project uses them + weightipy
#   bench/.venv-balance  balance (pins numpy<2, so it gets a venv of its own)
# R's survey package comes from Debian: apt-get install r-base-core r-cran-survey
# Usage: bash bench/setup_venvs.sh      (idempotent; about a minute on a fresh machine)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"

make_venv() {  # name, packages...
  local dir="$here/$1"; shift
  if [ ! -x "$dir/bin/python" ]; then
    "$python" -m venv "$dir"
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
}

make_venv .venv-bench "weightipy==0.4.2" numpy pandas psutil
make_venv .venv-balance "balance==0.23.0" psutil
echo "bench venvs ready: $here/.venv-bench $here/.venv-balance"
