#!/usr/bin/env bash
# Installs the peers `cargo bench --bench coverage` runs beside rubric (idempotent): Debian's
# `lcov` and PyPI's `pycobertura` (in a virtual environment under target/, put on PATH by
# `. scripts/bench-peers.sh`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v lcov >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lcov >&2
fi
venv="$root/target/bench-peers"
if [ ! -x "$venv/bin/pycobertura" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q pycobertura >&2
fi
export PATH="$venv/bin:$PATH"
