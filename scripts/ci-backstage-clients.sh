#!/usr/bin/env bash
# Installs the Backstage portal clients teams already run, from npm, for the test that drives
# them against a running `rubric serve` (tests/it/portal_node_clients.rs), idempotently: the
# Tech Insights client of @backstage-community/plugin-tech-insights-common 0.11.0 and the
# ScorecardApiClient of @red-hat-developer-hub/backstage-plugin-scorecard 2.8.1, exactly as
# tests/clients/node/package-lock.json pins them (`npm ci`, into target/, not the source tree).
# Prints the line that points the test at them:
#
#   eval "$(scripts/ci-backstage-clients.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tests/clients/node"
dir="${RUBRIC_BACKSTAGE_CLIENTS_DIR:-$root/target/backstage-clients}"
mkdir -p "$dir"
if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >&2
fi
# The clients use the global fetch and the test `node --test`: Node 18 or later.
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
    echo "Node $(node --version) is too old for the Backstage clients: install Node 18 or later" >&2
    exit 1
fi
# Reinstalled when the pinned lock changes.
if ! cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
    || [ ! -d "$dir/node_modules/@red-hat-developer-hub/backstage-plugin-scorecard" ] \
    || [ ! -d "$dir/node_modules/@backstage-community/plugin-tech-insights-common" ]; then
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
fi
echo "export RUBRIC_TEST_BACKSTAGE_CLIENTS='$dir'"
