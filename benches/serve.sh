#!/usr/bin/env bash
# Load test of `rubric serve` beside a bare axum handler: 10,000 entities' results (2 scorecards,
# 3 rules each) in a SQLite store, then `GET /api/v1/entities/{tag}/scorecards` for random
# entities with wrk from loopback, against rubric and against `benches/bare_axum.rs` (the same
# route answering one of rubric's bodies, so both send the same bytes, with nothing else), back to
# back in the same run at each connection count.
# Goals on a 2-core machine: rubric >= 0.8x the bare handler's requests/s; >= 20,000 requests/s
# and p99 < 5 ms.
#
#   benches/serve.sh [DURATION=20s] [CONNECTIONS="16 64"]
#
# Prints one JSON line per server and connection count, {"bench":"serve","server",
# "connections","rps","p99_ms"}, then {"bench":"serve","figure":"rubric / bare axum",
# "connections","value","goal":0.8,"ratio"} (ratio = value / goal), and the summary line
# `RESULT requests/s=... p99=...` of rubric at the last connection count. The machine may be
# shared: compare the ratios, which are measured under the same load, not absolute figures.
#
# Installs the Debian `wrk` package when missing. Builds in release mode (several minutes cold)
# into $CARGO_TARGET_DIR (default target/); RUBRIC_BENCH_NO_BUILD=1 uses the binaries already
# there.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-20s}"
connection_counts="${2:-16 64}"
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
fi

# The anchor's executable, as cargo names it (target/release/deps/bare_axum-HASH).
bare_axum_path() {
    cargo build -q --release --bench bare_axum --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "bare_axum" and m.get("executable"):
        print(m["executable"])'
}
[ -n "${RUBRIC_BENCH_NO_BUILD:-}" ] || cargo build -q --release --bin rubric
bare_axum="$(bare_axum_path)"
store="sqlite://$work/bench.db"
echo "seeding 10,000 entities into $store" >&2
# Seeding is not measured: the debug test build (already there for `cargo test`) is enough.
RUBRIC_BENCH_STORE="$store" cargo test -q --test server_bench_seed -- --ignored >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

token="bench-token-$(date +%s)"
port="$(free_port)"
RUBRIC_API_TOKENS="bench:read:$token" RUBRIC_SCHEDULE_ENABLED=false RUBRIC_LOG=error \
    "$target/release/rubric" serve --store "$store" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$port/readyz" || { echo "rubric did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/entities/svc-00042/scorecards" \
    >"$work/body.json"
grep -q '"coverage-maturity"' "$work/body.json" || { echo "the server does not answer results" >&2; cat "$work/serve.log" >&2; exit 1; }

bare_port="$(free_port)"
"$bare_axum" --bind "127.0.0.1:$bare_port" --body "$work/body.json" >"$work/bare.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$bare_port/api/v1/entities/svc-00042/scorecards" \
    || { echo "bare_axum did not start" >&2; cat "$work/bare.log" >&2; exit 1; }
echo "body: $(wc -c <"$work/body.json") bytes from both servers" >&2

cat >"$work/random.lua" <<'LUA'
math.randomseed(42)
request = function()
    return wrk.format("GET", string.format("/api/v1/entities/svc-%05d/scorecards", math.random(0, 9999)))
end
LUA

# wrk against one server; prints "requests/s p99_ms" and keeps wrk's report in $work/NAME.txt.
load() {
    local name="$1" url="$2" connections="$3" length="$4"
    wrk -t2 -c"$connections" -d"$length" --latency -H "Authorization: Bearer $token" \
        -s "$work/random.lua" "$url" >"$work/$name.txt"
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v
        }
        /^Requests\/sec/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%s %.3f\n", rps, p99 }' "$work/$name.txt"
}

for connections in $connection_counts; do
    # Warm both (rubric's response cache, both servers' connections) before measuring.
    load warm-bare "http://127.0.0.1:$bare_port" "$connections" 2s >/dev/null
    load warm-rubric "http://127.0.0.1:$port" "$connections" 2s >/dev/null
    echo "wrk: $duration, $connections connections, 2 threads, random entities of 10,000: bare axum, then rubric" >&2
    read -r bare_rps bare_p99 < <(load "bare-$connections" "http://127.0.0.1:$bare_port" "$connections" "$duration")
    read -r rps p99 < <(load "rubric-$connections" "http://127.0.0.1:$port" "$connections" "$duration")
    errors="$(grep -h 'Non-2xx\|Socket errors' "$work/bare-$connections.txt" "$work/rubric-$connections.txt" || true)"
    [ -z "$errors" ] || { echo "wrk saw errors: $errors" >&2; exit 1; }
    printf '{"bench":"serve","server":"bare axum","connections":%s,"rps":%s,"p99_ms":%s}\n' "$connections" "$bare_rps" "$bare_p99"
    printf '{"bench":"serve","server":"rubric","connections":%s,"rps":%s,"p99_ms":%s}\n' "$connections" "$rps" "$p99"
    python3 -c 'import json, sys; v = float(sys.argv[2]) / float(sys.argv[3]); print(json.dumps({"bench": "serve", "figure": "rubric / bare axum", "connections": int(sys.argv[1]), "value": round(v, 3), "unit": "x", "goal": 0.8, "ratio": round(v / 0.8, 3)}))' \
        "$connections" "$rps" "$bare_rps"
done
echo "RESULT requests/s=$rps p99=${p99}ms (goal >= 20000 req/s, p99 < 5ms; >= 0.8x bare axum)"
