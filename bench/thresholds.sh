#!/usr/bin/env bash
# What the CI gate costs on the hot path: requests per generator CPU-second with no
# thresholds, with a status-selected latency threshold (per-status histograms are then
# recorded per request), and with an abort_on_fail threshold (live snapshot every tick).
#
# Method as bench/compare.sh: nginx (1 worker) pinned to CPU 1 on 127.0.0.1, our binary
# pinned to CPU 0 under /usr/bin/time, same duration and connections for each variant.
#
# Usage: bench/thresholds.sh [--conns N] [--duration S] [--port P] [--loadtester BIN]
# Installs nothing; exits 0 with a message when nginx is missing. Load only goes to
# 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNS=50
DURATION=8
PORT=18093
LOADTESTER="$ROOT/target/release/loadtester"
NGINX="${NGINX:-/usr/sbin/nginx}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns) CONNS="$2"; shift 2 ;;
        --duration) DURATION="${2%s}"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --loadtester) LOADTESTER="$2"; shift 2 ;;
        -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "thresholds.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x "$NGINX" ]] || { echo "thresholds.sh: nginx not found at $NGINX; skipping" >&2; exit 0; }
[[ -x "$LOADTESTER" ]] || { echo "thresholds.sh: build first: cargo build --release" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/loadtester-thr.XXXXXX")"
NGINX_PID=""
cleanup() {
    [[ -n "$NGINX_PID" ]] && kill -TERM "$NGINX_PID" 2> /dev/null && wait "$NGINX_PID" 2> /dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null; }
if port_open; then
    echo "thresholds.sh: 127.0.0.1:$PORT is taken; use --port" >&2
    exit 1
fi

mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" << EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/cb; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
    uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
    server { listen 127.0.0.1:$PORT; location / { return 200 "hello\n"; } }
}
EOF
taskset -c 1 "$NGINX" -p "$WORK" -e "$WORK/logs/error.log" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 100); do port_open && break; sleep 0.05; done

plan() { # plan NAME THRESHOLDS_YAML
    printf 'base_url: http://127.0.0.1:%s\ndefaults: {concurrency: %s, duration: %ss, timeout: 5s}\nscenarios:\n  - {name: root, path: /}\n%s' \
        "$PORT" "$CONNS" "$DURATION" "$2" > "$WORK/$1.yaml"
}
plan none ""
plan status $'thresholds:\n  "http_req_duration{status:200}": ["p(99)<1000"]\n'
plan abort $'thresholds:\n  http_req_failed:\n    - {threshold: rate<0.5, abort_on_fail: true}\n  http_req_duration:\n    - {threshold: p(99)<5000, abort_on_fail: true}\n'

printf '%-8s %12s %10s %14s %10s\n' variant requests cpu_s req_per_cpu_s rss_kb
for v in none status abort; do
    taskset -c 0 /usr/bin/time -f "%U %S %M" -o "$WORK/$v.time" \
        "$LOADTESTER" --plan "$WORK/$v.yaml" --quiet --out "json=$WORK/$v.json" || true
    read -r u s m < "$WORK/$v.time"
    n="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requests"])' "$WORK/$v.json")"
    awk -v v="$v" -v n="$n" -v u="$u" -v s="$s" -v m="$m" \
        'BEGIN { c = u + s; printf "%-8s %12d %10.2f %14.0f %10d\n", v, n, c, (c > 0 ? n / c : 0), m }'
done
