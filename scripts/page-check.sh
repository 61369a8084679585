#!/usr/bin/env bash
# Loads an entity page from a running `rubric serve` in a real headless Chromium, checks its
# content and saves a screenshot.
#
#   scripts/page-check.sh [ENTITY] [SCREENSHOT.png]
#   scripts/page-check.sh --coverage [SCREENSHOT.png]   # the coverage dashboard, 600 px wide
#
# Without RUBRIC_URL it starts `rubric serve --fixture` (the offline demo: sample catalog,
# built-in Codecov fixture, a temporary SQLite store) on a free loopback port and stops it after.
# With RUBRIC_URL=http://host:port it checks that server instead (RUBRIC_TOKEN, if set, is sent
# only to curl; Chromium reads the page through anonymous read). Installs the Debian `chromium`
# package when missing. Exit 0 when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."

dashboard=""
if [ "${1:-}" = "--coverage" ]; then
    dashboard=1
    shift
    entity="payments-api"
    shot="${1:-target/page-check/coverage.png}"
else
    entity="${1:-payments-api}"
    shot="${2:-target/page-check/${entity}.png}"
fi
mkdir -p "$(dirname "$shot")"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null; then
    echo "installing the Debian chromium package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
fi

url="${RUBRIC_URL:-}"
if [ -z "$url" ]; then
    cargo build -q --bin rubric
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    env -u RUBRIC_API_TOKENS RUBRIC_STORE_URL="sqlite://$work/history.db" RUBRIC_SCHEDULE_JITTER_SECS=0 \
        target/debug/rubric serve --fixture --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    server_pid=$!
    url="http://127.0.0.1:$port"
fi

# Wait (bounded) until the first scheduled run has written this entity's results.
auth=()
[ -n "${RUBRIC_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $RUBRIC_TOKEN")
for _ in $(seq 1 150); do
    if curl -fsS "${auth[@]}" "$url/api/v1/entities/$entity/scorecards" 2>/dev/null | grep -q '"run_id"'; then
        ready=1
        break
    fi
    sleep 0.2
done
if [ -z "${ready:-}" ]; then
    echo "page-check: no results for $entity at $url within 30 s" >&2
    [ -f "$work/serve.log" ] && cat "$work/serve.log" >&2
    exit 1
fi

page="$url/entities/$entity"
size=1100,1400
if [ -n "$dashboard" ]; then
    page="$url/coverage?sort=change"
    size=600,1000
fi
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile"
    --window-size="$size")
timeout 60 "${chrome[@]}" --dump-dom "$page" >"$work/dom.html" 2>"$work/chromium.log"
timeout 60 "${chrome[@]}" --screenshot="$shot" "$page" >/dev/null 2>>"$work/chromium.log"

fail=0
check() {
    if grep -q -- "$1" "$work/dom.html"; then
        echo "ok   $2"
    else
        echo "FAIL $2 (no match for: $1)"
        fail=1
    fi
}
if [ -n "$dashboard" ]; then
    check "<h1>Coverage</h1>" "the dashboard has its title"
    check "name=\"viewport\"" "the page sizes itself to a narrow window"
    check "<code>[a-z0-9_-]*/payments-api</code>" "the sample repositories are listed"
    check "<svg class=\"spark\"" "sparklines are rendered"
    check "?sort=coverage" "columns sort by a link"
    check "name=\"owner\"" "an owner filter is offered"
else
    check "<h1>" "the page has a title"
    check "$entity" "the page names the entity"
    check "Coverage" "the coverage section is shown"
    check "<svg class=\"spark\"" "an inline SVG sparkline or coverage row is rendered"
    check "class=\"outcome " "rule outcomes are listed"
    check "pass\|fail" "outcomes read pass or fail"
fi
if grep -q "<script" "$work/dom.html"; then echo "FAIL the page has no scripts"; fail=1; else echo "ok   the page has no scripts"; fi
if [ -s "$shot" ]; then echo "ok   screenshot saved: $shot ($(stat -c %s "$shot") bytes)"; else echo "FAIL no screenshot"; fail=1; fi
exit "$fail"
