#!/usr/bin/env bash
# Load test of `rubric serve`: 10,000 entities' results (2 scorecards, 3 rules each) in a SQLite
# store, then `GET /api/v1/entities/{tag}/scorecards` for random entities with wrk from loopback.
# Goal on a 2-core machine: >= 20,000 requests/s and p99 < 5 ms.
#
#   benches/serve.sh [DURATION=20s] [CONNECTIONS=64]
#
# Installs the Debian `wrk` package when missing. Builds in release mode (several minutes cold);
# RUBRIC_BENCH_NO_BUILD=1 uses the target/release/rubric already there.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-20s}"
connections="${2:-64}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
fi

[ -n "${RUBRIC_BENCH_NO_BUILD:-}" ] || cargo build -q --release --bin rubric
store="sqlite://$work/bench.db"
echo "seeding 10,000 entities into $store" >&2
# Seeding is not measured: the debug test build (already there for `cargo test`) is enough.
RUBRIC_BENCH_STORE="$store" cargo test -q --test server_bench_seed -- --ignored >&2

token="bench-token-$(date +%s)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RUBRIC_API_TOKENS="bench:read:$token" RUBRIC_SCHEDULE_ENABLED=false RUBRIC_LOG=error \
    target/release/rubric serve --store "$store" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/entities/svc-00042/scorecards" \
    | grep -q '"coverage-maturity"' || { echo "the server does not answer results" >&2; cat "$work/serve.log" >&2; exit 1; }

cat >"$work/random.lua" <<'LUA'
math.randomseed(42)
request = function()
    return wrk.format("GET", string.format("/api/v1/entities/svc-%05d/scorecards", math.random(0, 9999)))
end
LUA
echo "wrk: $duration, $connections connections, 2 threads, random entities of 10,000" >&2
wrk -t2 -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" \
    -s "$work/random.lua" "http://127.0.0.1:$port" | tee "$work/wrk.txt"
rps="$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")"
p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
echo "RESULT requests/s=$rps p99=$p99 (goal >= 20000 req/s, p99 < 5ms)"
