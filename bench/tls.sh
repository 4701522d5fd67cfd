#!/usr/bin/env bash
# HTTPS and HTTP/2 throughput per generator CPU-second, next to plain HTTP/1.1.
#
# Method (as bench/compare.sh): nginx (1 worker, pinned to CPU 1) serves a tiny static
# body on 127.0.0.1 over plain HTTP, HTTPS (HTTP/1.1 and HTTP/2 by ALPN) and h2c; our
# binary runs pinned to CPU 0 under /usr/bin/time for the same duration and connection
# count. Rows: requests, wall rps, generator user+sys CPU seconds, requests per
# CPU-second, peak RSS. A last row measures `keep_alive: false` over HTTPS (a TLS
# handshake per request).
#
# Usage:
#   bench/tls.sh                       # 50 connections, 8 s per row
#   bench/tls.sh --conns 10 --duration 4
# Options / environment (flags win):
#   --conns N       CONNS       connections (default 50)
#   --duration S    DURATION    seconds per row (default 8)
#   --port P        PORT        first of three ports on 127.0.0.1 (default 18443)
#   --loadtester B  LOADTESTER  our binary (default target/release/loadtester)
#   --out DIR       OUT         where results go (default bench/out)
#
# Needs nginx (with http_v2 and ssl) and openssl; installs nothing. Load only goes to
# 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNS="${CONNS:-50}"
DURATION="${DURATION:-8}"
PORT="${PORT:-18443}"
LOADTESTER="${LOADTESTER:-$ROOT/target/release/loadtester}"
OUT="${OUT:-$ROOT/bench/out}"
NGINX="${NGINX:-/usr/sbin/nginx}"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns | -c) CONNS="${2:?--conns needs a value}"; shift 2 ;;
        --duration | -d) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --port) PORT="${2:?--port needs a value}"; shift 2 ;;
        --loadtester) LOADTESTER="${2:?--loadtester needs a value}"; shift 2 ;;
        --out) OUT="${2:?--out needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "tls.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
DURATION="${DURATION%s}"

note() { echo "tls.sh: $*" >&2; }
[[ -x "$NGINX" ]] || { note "nginx not found at $NGINX; skipping"; exit 0; }
command -v openssl > /dev/null || { note "openssl not found; skipping"; exit 0; }
[[ -x "$LOADTESTER" ]] || { note "build first: cargo build --release"; exit 1; }

if [[ "$(nproc --all 2> /dev/null || echo 1)" -ge 2 ]] && command -v taskset > /dev/null; then
    PIN_SERVER=(taskset -c 1)
    PIN_GEN=(taskset -c 0)
else
    note "fewer than 2 CPUs or no taskset: running unpinned, numbers will be noisy"
    PIN_SERVER=()
    PIN_GEN=()
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loadtester-tls.XXXXXX")"
NGINX_PID=""
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

# A CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$WORK/server.key" -out "$WORK/server.csr" 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 2 -extfile "$WORK/ext.cnf" -out "$WORK/server.pem" 2> /dev/null

HTTP_PORT=$PORT
TLS_PORT=$((PORT + 1))
H2C_PORT=$((PORT + 2))
if "$NGINX" -v 2>&1 | awk -F/ '{ split($2, v, "."); exit !(v[1] > 1 || (v[1] == 1 && (v[2] > 25 || (v[2] == 25 && v[3] >= 1)))) }'; then
    TLS_LISTEN="listen 127.0.0.1:$TLS_PORT ssl; http2 on;"
    H2C_LISTEN="listen 127.0.0.1:$H2C_PORT; http2 on;"
else
    TLS_LISTEN="listen 127.0.0.1:$TLS_PORT ssl http2;"
    H2C_LISTEN="listen 127.0.0.1:$H2C_PORT http2;"
fi
mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" << EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    ssl_certificate $WORK/server.pem;
    ssl_certificate_key $WORK/server.key;
    ssl_session_cache shared:SSL:10m;
    server { listen 127.0.0.1:$HTTP_PORT; location / { return 200 "hello\n"; } }
    server { $TLS_LISTEN location / { return 200 "hello\n"; } }
    server { $H2C_LISTEN location / { return 200 "hello\n"; } }
}
EOF
"${PIN_SERVER[@]}" "$NGINX" -p "$WORK" -e "$WORK/logs/error.log" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do
    (exec 3<> "/dev/tcp/127.0.0.1/$H2C_PORT") 2> /dev/null && break
    sleep 0.1
done

printf '%-26s %10s %10s %8s %12s %8s\n' mode requests rps cpu_s req/cpu_s rss_MB | tee "$OUT/tls.txt"
row() { # name url version keep_alive
    local name="$1" url="$2" version="$3" keep="$4"
    cat > "$WORK/$name.yaml" << EOF
base_url: $url
tls:
  ca: $WORK/ca.pem
defaults:
  http_version: "$version"
  keep_alive: $keep
  concurrency: $CONNS
  duration: ${DURATION}s
scenarios:
  - path: /
EOF
    "${PIN_GEN[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$LOADTESTER" --plan "$WORK/$name.yaml" --quiet --out "json=$OUT/tls-$name.json" || true
    read -r user sys rss < "$WORK/$name.time"
    python3 - "$OUT/tls-$name.json" "$name" "$user" "$sys" "$rss" << 'PY' | tee -a "$OUT/tls.txt"
import json, sys
path, name, user, sys_s, rss = sys.argv[1:]
s = json.load(open(path))["summary"]
cpu = float(user) + float(sys_s)
print(f"{name:<26} {s['requests']:>10} {s['rps']:>10.0f} {cpu:>8.2f} {s['requests'] / cpu:>12.0f} {int(rss) / 1024:>8.1f}"
      f"   {s.get('protocol', '')} failed={s['failed']}")
PY
}
row http1-plain "http://127.0.0.1:$HTTP_PORT" 1.1 true
row https-http1-keepalive "https://127.0.0.1:$TLS_PORT" 1.1 true
row https-h2-alpn "https://127.0.0.1:$TLS_PORT" auto true
row h2c-prior-knowledge "http://127.0.0.1:$H2C_PORT" 2 true
row https-http1-no-keepalive "https://127.0.0.1:$TLS_PORT" 1.1 false
echo "tls.sh: results in $OUT/tls.txt"
