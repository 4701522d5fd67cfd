#!/usr/bin/env bash
# Do dashboard clients slow down a run that `loadtester serve` executes? Requests per
# CPU-second of the server process for the same run with no event-stream client and with
# 5 clients on GET /runs/{id}/events (what 5 open dashboards cost).
#
# Method (as bench/live.sh): nginx with one worker pinned to CPU 1 serves a tiny body on
# 127.0.0.1; `loadtester serve --store memory` runs pinned to CPU 0; each run is POSTed
# as inline YAML (50 users, DURATION s); the server's CPU (user+sys from /proc/PID/stat)
# is read before the POST and after the run finished; requests come from the run's
# result.json. The 5 SSE clients are `curl -N` processes (their own CPU is not counted;
# the server's work for them is). Variants alternate, RUNS times each (default 3).
#
# Usage: bench/serve_sse.sh          (needs nginx, curl and target/release/loadtester)
#   RUNS=5 DURATION=8 PORT=18082 API_PORT=18089 bench/serve_sse.sh
# Load only goes to 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-8}"
PORT="${PORT:-18082}"
API_PORT="${API_PORT:-18089}"
CLIENTS="${CLIENTS:-5}"
LT="${LOADTESTER:-$ROOT/target/release/loadtester}"
NGINX="${NGINX:-/usr/sbin/nginx}"
[[ -x "$NGINX" ]] || { echo "serve_sse.sh: no nginx at $NGINX; skipping" >&2; exit 0; }
[[ -x "$LT" ]] || { echo "serve_sse.sh: build first: cargo build --release" >&2; exit 2; }
API="http://127.0.0.1:$API_PORT"

WORK="$(mktemp -d)"
NGINX_PID=""
SERVE_PID=""
cleanup() {
    [[ -n "$SERVE_PID" ]] && kill "$SERVE_PID" 2> /dev/null
    [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" << CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/cb; proxy_temp_path $WORK/px; fastcgi_temp_path $WORK/fc;
    uwsgi_temp_path $WORK/uw; scgi_temp_path $WORK/sc;
    server { listen 127.0.0.1:$PORT; location / { return 200 "hello\n"; } }
}
CONF
taskset -c 1 "$NGINX" -p "$WORK" -e "$WORK/logs/error.log" -c "$WORK/nginx.conf" &
NGINX_PID=$!

taskset -c 0 "$LT" serve --store memory --listen "127.0.0.1:$API_PORT" --data-dir "$WORK/data" \
    > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 50); do
    curl -sf "$API/healthz" > /dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$API/healthz" > /dev/null || { echo "serve_sse.sh: serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }

BODY="$(python3 -c 'import json,sys; print(json.dumps({"name": "bench", "yaml": sys.argv[1]}))' \
"base_url: http://127.0.0.1:$PORT
defaults: {concurrency: 50, duration: ${DURATION}s}
scenarios:
  - {name: root, path: /}
")"
TCK="$(getconf CLK_TCK)"
cpu_s() { awk -v t="$TCK" '{ print ($14 + $15) / t }' "/proc/$SERVE_PID/stat"; }
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }

# run NAME CLIENTS : one run through the API; prints "NAME requests cpu_s req_per_cpu_s".
run() {
    local name="$1" clients="$2" before after id state reqs pids=()
    before="$(cpu_s)"
    id="$(curl -sf -X POST "$API/runs" -H 'Content-Type: application/json' -d "$BODY" | field id)"
    for _ in $(seq "$clients"); do
        curl -sN "$API/runs/$id/events" > /dev/null 2>&1 &
        pids+=("$!")
    done
    state=""
    for _ in $(seq $((DURATION * 10 + 300))); do
        state="$(curl -sf "$API/runs/$id" | field state)"
        [[ "$state" == queued || "$state" == running ]] || break
        sleep 0.1
    done
    after="$(cpu_s)"
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    [[ "$state" == finished ]] || { echo "serve_sse.sh: run $id ended $state" >&2; exit 1; }
    reqs="$(curl -sf "$API/runs/$id/result.json" | field summary.requests)"
    awk -v n="$name" -v r="$reqs" -v a="$after" -v b="$before" \
        'BEGIN { c = a - b; printf "%-18s %9d req  %6.2f cpu-s  %8.0f req/cpu-s\n", n, r, c, r / c }'
}

echo "# serve: ${DURATION}s runs, 50 users, nginx on CPU 1, serve on CPU 0 ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
for _ in $(seq "$RUNS"); do
    run "no SSE client" 0
    run "$CLIENTS SSE clients" "$CLIENTS"
done
