#!/usr/bin/env bash
# Installs the coverage uploaders teams already run, from their registries, for the tests that
# upload with them to a running `rubric serve` (tests/it/upload_clients.rs), idempotently:
# codecov-cli 11.3.1 and the Codacy Python reporter 1.3.11 (PyPI, in a virtual environment) and
# the Codacy Node reporter 3.4.0 (npm). Prints the line that points the tests at them:
#
#   eval "$(scripts/ci-upload-clients.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${RUBRIC_CLIENTS_DIR:-$root/target/upload-clients}"
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/codecovcli" ] || [ ! -x "$dir/venv/bin/python-codacy-coverage" ]; then
    python3 -m venv "$dir/venv" >&2
    "$dir/venv/bin/pip" install -q --only-binary=:all: codecov-cli==11.3.1 >&2
    "$dir/venv/bin/pip" install -q codacy-coverage==1.3.11 >&2
fi
if [ ! -x "$dir/node/node_modules/.bin/codacy-coverage" ]; then
    if ! command -v npm >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >&2
    fi
    npm install -q --no-audit --no-fund --prefix "$dir/node" codacy-coverage@3.4.0 >&2
fi
echo "export RUBRIC_TEST_UPLOAD_CLIENTS='$dir'"
