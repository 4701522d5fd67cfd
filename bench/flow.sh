#!/usr/bin/env bash
# Flow overhead: requests per generator CPU-second of a 3-step flow with captures
# (bench/plans/flow-3-steps.yaml) against the single-request plan (flow-single.yaml).
#
# Method (as bench/compare.sh): nginx, one worker pinned to CPU 1, on 127.0.0.1;
# loadtester pinned to CPU 0 under /usr/bin/time; requests divided by user+sys seconds.
# nginx answers /login with {"token":"abc","data":[{"id":1}]} (application/json) and
# everything else with "hello\n".
#
# Usage: bench/flow.sh [--conns N] [--duration S] [--port P] [--loadtester BIN]
#        EXTRA_PLAN=plan.yaml bench/flow.sh    # adds a third row for that plan
# Installs nothing; missing nginx => message and exit 0. Load only goes to 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNS="${CONNS:-50}"
DURATION="${DURATION:-8}"
PORT="${PORT:-18081}"
LOADTESTER="${LOADTESTER:-$ROOT/target/release/loadtester}"
NGINX="${NGINX:-/usr/sbin/nginx}"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns | -c) CONNS="${2:?}"; shift 2 ;;
        --duration | -d) DURATION="${2:?}"; shift 2 ;;
        --port) PORT="${2:?}"; shift 2 ;;
        --loadtester) LOADTESTER="${2:?}"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "flow.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
DURATION="${DURATION%s}"

if [[ ! -x "$NGINX" ]]; then
    echo "flow.sh: nginx not found at $NGINX; skipping" >&2
    exit 0
fi
if [[ ! -x "$LOADTESTER" ]]; then
    echo "flow.sh: $LOADTESTER not built (cargo build --release)" >&2
    exit 1
fi
if [[ "$(nproc --all)" -ge 2 ]] && command -v taskset > /dev/null; then
    PIN_SERVER=(taskset -c 1)
    PIN_GEN=(taskset -c 0)
else
    PIN_SERVER=()
    PIN_GEN=()
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/loadtester-flow.XXXXXX")"
NGINX_PID=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [[ -n "$NGINX_PID" ]]; then
        kill -TERM "$NGINX_PID" 2> /dev/null || true
        wait "$NGINX_PID" 2> /dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT

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
    keepalive_timeout 120s;
    default_type text/plain;
    client_body_temp_path $WORK/client_body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    server {
        listen 127.0.0.1:$PORT;
        location /login {
            default_type application/json;
            return 200 '{"token":"abc","data":[{"id":1}]}';
        }
        location / { return 200 "hello\n"; }
    }
}
CONF
"${PIN_SERVER[@]}" "$NGINX" -p "$WORK" -e "$WORK/logs/error.log" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break
    sleep 0.05
done

# run NAME PLAN: prints "NAME requests cpu_s req/cpu-s rss_MB"
run() {
    local name="$1" plan="$2"
    "${PIN_GEN[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$LOADTESTER" --plan "$plan" --base-url "http://127.0.0.1:$PORT" -c "$CONNS" \
        -d "${DURATION}s" --quiet --out "json=$WORK/$name.json" > /dev/null 2>&1 || true
    python3 - "$name" "$WORK/$name.json" "$WORK/$name.time" << 'PY'
import json, sys
name, result, timing = sys.argv[1:4]
s = json.load(open(result))
u, st, rss = open(timing).read().split()[-3:]
cpu = float(u) + float(st)
req = s["summary"]["requests"]
iters = sum(x.get("iterations", 0) for x in s["scenarios"])
print(f"{name:10} {req:10d} {iters:10d} {s['summary']['failed']:7d} {cpu:7.2f} {req / cpu:12.0f} {int(rss) / 1024:8.1f}")
PY
}

echo "flow.sh: $CONNS users, ${DURATION}s each, nginx on 127.0.0.1:$PORT" >&2
printf "%-10s %10s %10s %7s %7s %12s %8s\n" plan requests iterations failed "cpu s" "req/cpu-s" "peak MB"
run single "$ROOT/bench/plans/flow-single.yaml"
run flow "$ROOT/bench/plans/flow-3-steps.yaml"
if [[ -n "${EXTRA_PLAN:-}" ]]; then run extra "$EXTRA_PLAN"; fi
