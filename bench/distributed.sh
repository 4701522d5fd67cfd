#!/usr/bin/env bash
# Distributed runs: what reporting to a coordinator costs a worker, whether the
# coordinator's memory grows with the run's length, and how big one snapshot
# (delta) message per worker per second is, for a 20-scenario plan.
#
# Method: nginx (1 worker, pinned to CPU 1) serves a tiny body on 127.0.0.1.
# 1. Throughput: the same plan (20 scenarios, CONNS users, DURATION s) runs
#    standalone and as the one worker of a coordinator (`--workers 1`), each
#    pinned to CPU 0 under /usr/bin/time; wrk with the same connections runs
#    as the reference. Reported: requests per CPU-second (user+sys) of the
#    generator process, ROUNDS alternating rounds, median. The coordinator
#    sits on CPU 1 with nginx (it handles one small message a second).
# 2. Coordinator memory: a coordinator with 3 workers at an arrival rate of
#    RATE/s (20 scenarios) for SHORT s, LONG s and LONGEST s; its peak RSS
#    (/usr/bin/time %M) and its VmRSS sampled every 5 s. Beside each, at the same
#    time, a standalone run of the same plan and length (peak RSS), for what one
#    process running it all keeps.
# 3. Snapshot size: `delta_bytes / messages` of each worker in the
#    coordinator's GET /status, polled during the throughput run of 1. (full
#    speed) and the long run of 2.
#
# Usage:
#   bench/distributed.sh                  # 50 connections, 8 s, 3 rounds, 30/120/300 s
#   ROUNDS=1 SHORT=10 LONG=30 LONGEST=60 bench/distributed.sh   # quicker
# Environment:
#   CONNS (50) DURATION (8) ROUNDS (3) RATE (300) SHORT (30) LONG (120) LONGEST (300)
#   PORT (18090: nginx) CPORT (18091: coordinator)
#   LOADTESTER (target/release/loadtester)  OUT (bench/out)
#
# Installs nothing. Missing nginx or our binary => message and exit 0; missing
# wrk => no reference row. Load only goes to 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNS="${CONNS:-50}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
RATE="${RATE:-300}"
SHORT="${SHORT:-30}"
LONG="${LONG:-120}"
LONGEST="${LONGEST:-300}"
PORT="${PORT:-18090}"
CPORT="${CPORT:-18091}"
LOADTESTER="${LOADTESTER:-$ROOT/target/release/loadtester}"
OUT="${OUT:-$ROOT/bench/out}"
NGINX="${NGINX:-/usr/sbin/nginx}"

note() { echo "distributed.sh: $*" >&2; }
for v in CONNS DURATION ROUNDS RATE SHORT LONG LONGEST PORT CPORT; do
    if ! [[ "${!v}" =~ ^[0-9]+$ ]] || [[ "${!v}" -eq 0 ]]; then
        note "$v must be a positive integer, got '${!v}'"
        exit 2
    fi
done
[[ -x "$NGINX" ]] || { note "nginx not found at $NGINX; skipping"; exit 0; }
[[ -x "$LOADTESTER" ]] || { note "no binary at $LOADTESTER (cargo build --release); skipping"; exit 0; }
[[ -x /usr/bin/time ]] || { note "/usr/bin/time is needed (apt-get install time)"; exit 1; }
command -v curl > /dev/null || { note "curl is needed"; exit 1; }

if [[ "$(nproc --all 2> /dev/null || echo 1)" -ge 2 ]] && command -v taskset > /dev/null; then
    PIN_SERVER=(taskset -c 1)
    PIN_GEN=(taskset -c 0)
else
    note "fewer than 2 CPUs or no taskset: running unpinned"
    PIN_SERVER=()
    PIN_GEN=()
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loadtester-dist.XXXXXX")"
PIDS=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

open_port() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for p in "$PORT" "$CPORT"; do
    if open_port "$p"; then
        note "something already listens on 127.0.0.1:$p; set PORT/CPORT"
        exit 1
    fi
done

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
    client_body_temp_path $WORK/cb; proxy_temp_path $WORK/px;
    fastcgi_temp_path $WORK/fc; uwsgi_temp_path $WORK/uw; scgi_temp_path $WORK/sc;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / { return 200 "hello\n"; }
    }
}
EOF
"${PIN_SERVER[@]}" "$NGINX" -p "$WORK" -e "$WORK/logs/error.log" -c "$WORK/nginx.conf" &
PIDS+=($!)
for _ in $(seq 100); do open_port "$PORT" && break; sleep 0.05; done
open_port "$PORT" || { note "nginx did not start"; cat "$WORK/logs/error.log" >&2; exit 1; }

# plan FILE LOAD-YAML: 20 scenarios against nginx.
plan() {
    {
        echo "base_url: http://127.0.0.1:$PORT"
        echo "$2"
        echo "scenarios:"
        for i in $(seq 1 20); do echo "  - {name: s$i, path: /s$i}"; done
    } > "$1"
}
plan "$WORK/closed.yaml" "defaults: {concurrency: $CONNS, duration: ${DURATION}s, timeout: 5s}"

# cpu_of FILE: user+sys seconds; rss_of FILE: peak RSS KiB (from /usr/bin/time -f "%U %S %M").
cpu_of() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }
rss_of() { awk '{ print $3 }' "$1"; }
requests_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requests"])' "$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# poll_status FILE: keep the coordinator's last /status in FILE until it exits.
poll_status() {
    while sleep 0.5; do
        curl -fsS "http://127.0.0.1:$CPORT/status" -o "$1.tmp" 2> /dev/null && mv "$1.tmp" "$1" || true
        open_port "$CPORT" || break
    done
}

# coordinator N PLAN NAME: start a coordinator for N workers on CPU 1 under /usr/bin/time.
coordinator() {
    "${PIN_SERVER[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$3.coord.time" \
        "$LOADTESTER" --role coordinator --plan "$2" --workers "$1" \
        --listen "127.0.0.1:$CPORT" --quiet --out "json=$WORK/$3.merged.json" \
        > "$WORK/$3.coord.log" 2>&1 &
    COORD=$!
    for _ in $(seq 100); do open_port "$CPORT" && break; sleep 0.05; done
}

declare -A PER_CPU
run_round() {
    local r="$1" name
    if command -v wrk > /dev/null; then
        name="wrk.$r"
        "${PIN_GEN[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
            wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/s1" > "$WORK/$name.out" 2>&1
        local reqs
        reqs="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/$name.out")"
        PER_CPU[wrk]+="$(awk -v n="$reqs" -v c="$(cpu_of "$WORK/$name.time")" 'BEGIN { printf "%.0f", n / c }') "
    fi
    name="standalone.$r"
    "${PIN_GEN[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$LOADTESTER" --plan "$WORK/closed.yaml" --quiet --out "json=$WORK/$name.json" > "$WORK/$name.out" 2>&1
    PER_CPU[standalone]+="$(awk -v n="$(requests_of "$WORK/$name.json")" -v c="$(cpu_of "$WORK/$name.time")" 'BEGIN { printf "%.0f", n / c }') "
    name="worker.$r"
    coordinator 1 "$WORK/closed.yaml" "$name"
    poll_status "$WORK/$name.status" &
    local poller=$!
    "${PIN_GEN[@]}" /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$LOADTESTER" --plan "$WORK/closed.yaml" --role worker --coordinator "http://127.0.0.1:$CPORT" \
        --quiet --out "json=$WORK/$name.json" > "$WORK/$name.out" 2>&1
    wait "$COORD" || note "coordinator of round $r exited $?: $(tail -n3 "$WORK/$name.coord.log")"
    wait "$poller" 2> /dev/null || true
    PER_CPU[worker]+="$(awk -v n="$(requests_of "$WORK/$name.json")" -v c="$(cpu_of "$WORK/$name.time")" 'BEGIN { printf "%.0f", n / c }') "
    if [[ -s "$WORK/$name.status" ]]; then
        python3 -c 'import json,sys; w=json.load(open(sys.argv[1]))["workers"][0]; print(round(w["delta_bytes"]/max(w["messages"],1)))' \
            "$WORK/$name.status" >> "$WORK/size.fullspeed" 2> /dev/null || true
    fi
}

echo "== 1. worker throughput, $CONNS users, ${DURATION}s, 20 scenarios, $ROUNDS rounds (requests per CPU-second, median)"
for r in $(seq 1 "$ROUNDS"); do run_round "$r"; done
wrk_m="$(tr ' ' '\n' <<< "${PER_CPU[wrk]:-}" | grep . | median || echo -)"
sa_m="$(tr ' ' '\n' <<< "${PER_CPU[standalone]}" | grep . | median)"
wk_m="$(tr ' ' '\n' <<< "${PER_CPU[worker]}" | grep . | median)"
printf '%-34s %12s %10s\n' "generator" "req/CPU-s" "vs wrk"
ratio() { [[ "$wrk_m" =~ ^[0-9]+$ ]] && awk -v a="$1" -v b="$wrk_m" 'BEGIN { printf "%.2f", a / b }' || echo -; }
printf '%-34s %12s %10s\n' "wrk -t1 (reference)" "$wrk_m" "1.00"
printf '%-34s %12s %10s\n' "loadtester standalone" "$sa_m" "$(ratio "$sa_m")"
printf '%-34s %12s %10s\n' "loadtester worker + coordinator" "$wk_m" "$(ratio "$wk_m")"
echo "   rounds: wrk [${PER_CPU[wrk]:-}] standalone [${PER_CPU[standalone]}] worker [${PER_CPU[worker]}]"
echo "   worker/standalone: $(awk -v a="$wk_m" -v b="$sa_m" 'BEGIN { printf "%.3f", a / b }')"

echo "== 2. coordinator memory, 3 workers, rate $RATE/s, 20 scenarios"
rss_run() {
    local secs="$1" name="rss.$1"
    plan "$WORK/$name.yaml" "load: {rate: $RATE, duration: ${secs}s, max_vus: 60}"
    coordinator 3 "$WORK/$name.yaml" "$name"
    # The time process is the coordinator's parent: sample the child loadtester.
    local pid=""
    for _ in $(seq 40); do pid="$(pgrep -P "$COORD" | head -n1 || true)"; [[ -n "$pid" ]] && break; sleep 0.05; done
    poll_status "$WORK/$name.status" &
    local poller=$! w=()
    for i in 1 2 3; do
        "${PIN_GEN[@]}" "$LOADTESTER" --role worker --coordinator "http://127.0.0.1:$CPORT" \
            --quiet > "$WORK/$name.w$i.out" 2>&1 &
        w+=($!)
    done
    # The same plan and length in one standalone process, at the same time.
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.alone.time" \
        "$LOADTESTER" --plan "$WORK/$name.yaml" --quiet --out "json=$WORK/$name.alone.json" \
        > "$WORK/$name.alone.out" 2>&1 &
    local alone=$!
    : > "$WORK/$name.samples"
    while kill -0 "$COORD" 2> /dev/null; do
        [[ -n "$pid" ]] && awk '/^VmRSS/ { printf "%s ", $2 }' "/proc/$pid/status" 2> /dev/null >> "$WORK/$name.samples" || true
        sleep 5
    done
    wait "$COORD" || note "coordinator of the ${secs}s run exited $?: $(tail -n3 "$WORK/$name.coord.log")"
    for p in "${w[@]}"; do wait "$p" || true; done
    wait "$alone" || note "the standalone ${secs}s run exited $?: $(tail -n3 "$WORK/$name.alone.out")"
    wait "$poller" 2> /dev/null || true
    printf '%6ss run: coordinator peak RSS %s KiB (standalone run of the plan: %s KiB); coordinator VmRSS every 5 s (KiB): %s\n' "$secs" \
        "$(rss_of "$WORK/$name.coord.time")" "$(rss_of "$WORK/$name.alone.time")" "$(cat "$WORK/$name.samples")"
    if [[ -s "$WORK/$name.status" ]]; then
        python3 -c 'import json,sys
for w in json.load(open(sys.argv[1]))["workers"]:
    print(round(w["delta_bytes"]/max(w["messages"],1)))' "$WORK/$name.status" >> "$WORK/size.rate" 2> /dev/null || true
    fi
}
rss_run "$SHORT"
rss_run "$LONG"
rss_run "$LONGEST"

echo "== 3. snapshot (delta) size per worker per second, 20 scenarios (bytes, JSON body)"
echo "   full speed ($CONNS users, 1 worker): $(tr '\n' ' ' < "$WORK/size.fullspeed" 2> /dev/null || echo -)"
echo "   rate $RATE/s over 3 workers: $(tr '\n' ' ' < "$WORK/size.rate" 2> /dev/null || echo -)"
cp "$WORK"/*.json "$OUT"/ 2> /dev/null || true
