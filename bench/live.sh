#!/usr/bin/env bash
# What watching a run costs: requests per generator CPU-second with and without
# `--listen` (scraped every second: /metrics and /status) and with `--progress lines`.
#
# Method (as bench/compare.sh): nginx with one worker pinned to CPU 1 serves a tiny body on
# 127.0.0.1; loadtester runs pinned to CPU 0 under /usr/bin/time, 50 users, 8 s, each
# variant RUNS times (default 3); we print requests / (user+sys) for every run.
#
# Usage: bench/live.sh            (needs nginx and target/release/loadtester)
#   RUNS=5 DURATION=8 PORT=18081 LIVE_PORT=19481 bench/live.sh
# Load only goes to 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-8}"
PORT="${PORT:-18081}"
LIVE_PORT="${LIVE_PORT:-19481}"
LT="${LOADTESTER:-$ROOT/target/release/loadtester}"
NGINX="${NGINX:-/usr/sbin/nginx}"
[[ -x "$NGINX" ]] || { echo "live.sh: no nginx at $NGINX; skipping" >&2; exit 0; }
[[ -x "$LT" ]] || { echo "live.sh: build first: cargo build --release" >&2; exit 2; }

WORK="$(mktemp -d)"
NGINX_PID=""
cleanup() { [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2> /dev/null; wait 2> /dev/null; rm -rf "$WORK"; }
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
sleep 0.5

cat > "$WORK/plan.yaml" << PLAN
base_url: http://127.0.0.1:$PORT
defaults: {concurrency: 50, duration: ${DURATION}s}
scenarios:
  - {name: root, path: /}
PLAN

# run NAME ARGS... : one pinned, timed run; prints "NAME requests cpu_s req_per_cpu_s".
run() {
    local name="$1"
    shift
    taskset -c 0 /usr/bin/time -f "%U %S" -o "$WORK/time" \
        "$LT" --plan "$WORK/plan.yaml" --out "json=$WORK/r.json" "$@" > /dev/null 2> "$WORK/err" || true
    local reqs cpu
    reqs="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requests"])' "$WORK/r.json")"
    cpu="$(awk '{print $1 + $2}' "$WORK/time")"
    awk -v n="$name" -v r="$reqs" -v c="$cpu" 'BEGIN { printf "%-22s %9d req  %6.2f cpu-s  %8.0f req/cpu-s\n", n, r, c, r / c }'
}

scrape() {
    # Scrape like Prometheus would (every second), plus /status, until the run ends.
    while sleep 1; do
        curl -s -o /dev/null "http://127.0.0.1:$LIVE_PORT/metrics" || true
        curl -s -o /dev/null "http://127.0.0.1:$LIVE_PORT/status" || true
    done
}

for i in $(seq "$RUNS"); do
    run "baseline" --quiet
    scrape &
    SCRAPER=$!
    run "listen+scrape 1/s" --quiet --listen "127.0.0.1:$LIVE_PORT"
    kill "$SCRAPER" 2> /dev/null; wait "$SCRAPER" 2> /dev/null || true
    run "progress lines=1s" --progress lines=1s
done
