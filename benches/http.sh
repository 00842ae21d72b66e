#!/usr/bin/env bash
# hyper on loopwork (examples/http_server) vs hyper on tokio
# (benches/http_tokio_server) on loopback: what a server operator sees.
#
#   benches/http.sh                          # 2 server threads, wrk -t2 -c64 -d10s, 1 round
#   ROUNDS=6 WRK_ARGS="-t2 -c64 -d5s" benches/http.sh
#   RATE=0 benches/http.sh                   # peak only, no fixed-rate pass
#   RATE=20000 benches/http.sh               # fixed rate given, not 50% of tokio's peak
#
# Two passes, each alternating the servers over ROUNDS rounds (round 1:
# loopwork first, round 2: tokio first, ...; never both servers at once):
#
# 1. Peak: wrk (WRK_ARGS) as fast as it can. Per run: requests/s, the latency
#    distribution (p50/p90/p99/p99.9, from benches/http_latency.lua) and the
#    server's CPU seconds per request (utime + stime from /proc/PID/stat before
#    and after the run, divided by the requests wrk completed) and its context
#    switches per request (summed over /proc/PID/task/*/status: the sleeps
#    and wake-ups a request costs).
# 2. Fixed rate (unless RATE=0): oha -q RATE (constant throughput, latency
#    corrected for coordinated omission) at RATE requests/s, by default 50% of
#    tokio's peak under oha itself (CALIBRATE_ROUNDS runs of oha without a
#    rate against tokio; the median), where the tail is not dominated by
#    saturation: oha needs more CPU per request than wrk, so on a machine
#    where client and server share the CPUs half of wrk's peak can be past
#    oha's. Same columns. oha runs OHA_CONNS connections for OHA_DURATION.
#
# Each pass ends with the median over rounds of the per-round ratios
# loopwork/tokio. /proc/PID/stat counts in clock ticks (CLK_TCK, 10 ms on
# most kernels): runs of a few seconds keep that error under a few percent.
#
# Builds both servers with the `bench` profile (release + debuginfo), installs
# wrk from Debian's packages and oha from crates.io (`cargo install --locked
# oha`, several minutes on 2 cores) if they are missing, starts each server on
# 127.0.0.1 with a free port (the server binds port 0 and prints its address),
# checks that it answers "Hello, world!", runs the load, stops it. Every server
# is killed on exit (trap), and every load run is bounded by its duration.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
WRK_ARGS=${WRK_ARGS:-"-t2 -c64 -d10s"}
ROUNDS=${ROUNDS:-1}
RATE=${RATE:-auto}
OHA_CONNS=${OHA_CONNS:-64}
OHA_DURATION=${OHA_DURATION:-10s}
CALIBRATE_ROUNDS=${CALIBRATE_ROUNDS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
lua=$PWD/benches/http_latency.lua

if ! command -v wrk >/dev/null 2>&1; then
    echo "http.sh: installing wrk (Debian package)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
if [ "$RATE" != 0 ] && ! command -v oha >/dev/null 2>&1; then
    PATH=$HOME/.cargo/bin:$PATH
    if ! command -v oha >/dev/null 2>&1; then
        echo "http.sh: installing oha (cargo install --locked oha; several minutes)" >&2
        cargo install --locked oha >&2
    fi
fi
if [ "$RATE" != 0 ] && ! command -v python3 >/dev/null 2>&1; then
    echo "http.sh: installing python3 (Debian package; reads oha's JSON)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 >/dev/null
fi
command -v curl >/dev/null 2>&1 || echo "http.sh: curl not found, skipping the response check" >&2

echo "http.sh: building (bench profile)" >&2
cargo build --profile bench --features hyper --example http_server >&2
tokio_bin=$(cargo bench --bench http_tokio_server --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*http_tokio_server[^"]*"' | tail -n1 | cut -d'"' -f4)
lw_bin=$CARGO_TARGET_DIR/release/examples/http_server
[ -x "$lw_bin" ] || { echo "http.sh: $lw_bin not built" >&2; exit 1; }
[ -x "$tokio_bin" ] || { echo "http.sh: http_tokio_server not built" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

tck=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of the process (all its threads), in ticks.
# The fields are counted after the ")" that ends the command name.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# ctx_switches PID: voluntary + involuntary context switches of the
# process's live threads (a thread that exits during the run takes its
# count with it; the servers' loop threads live for the whole run). Each
# time a loop sleeps and is woken is one: at a fixed rate this counts the
# sleeps and wake-ups a request costs, which load barely changes.
ctx_switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# start NAME CMD...: start the server, wait for its address, check it; sets
# $pid and $url.
start() {
    local name=$1; shift
    local log=$work/$name.server
    "$@" >"$log" 2>&1 &
    pid=$!
    url=
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on //p' "$log" | head -n1)
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "http.sh: $name exited:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "http.sh: $name did not start" >&2; exit 1; }
    if command -v curl >/dev/null 2>&1; then
        local body
        body=$(curl -s --max-time 5 "$url/")
        [ "$body" = "Hello, world!" ] || { echo "http.sh: $name answered '$body'" >&2; exit 1; }
    fi
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

# result FILE: writes "rps p50 p90 p99 p999 cpu_us_per_request errors
# ctx_switches_per_request" (latencies in µs) to FILE.res from FILE (the load tool's output) and FILE.cpu (ticks).
# load PASS NAME ROUND: runs the pass's load tool against $url.
load() {
    local pass=$1 name=$2 round=$3
    local out=$work/$pass.$name.$round
    echo "http.sh: $pass: $name on $url, round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    local c0 c1 s0 s1
    c0=$(cpu_ticks "$pid")
    s0=$(ctx_switches "$pid")
    if [ "$pass" = peak ]; then
        # shellcheck disable=SC2086
        wrk $WRK_ARGS --latency -s "$lua" "$url/" >"$out"
    elif [ "$pass" = calibrate ]; then
        # oha as fast as it can: the peak of this client, for the rate.
        oha --no-tui --output-format json -z "$OHA_DURATION" -c "$OHA_CONNS" "$url/" >"$out"
    else
        oha --no-tui --output-format json -z "$OHA_DURATION" -c "$OHA_CONNS" -q "$rate" \
            --latency-correction "$url/" >"$out"
    fi
    c1=$(cpu_ticks "$pid")
    s1=$(ctx_switches "$pid")
    if [ "$pass" = peak ]; then
        grep -v '^HTTP_SH' "$out" >&2
        awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v tck="$tck" '/^HTTP_SH/ {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%.0f %d %d %d %d %.1f %d %.3f\n", v["requests"] / (v["duration_us"] / 1e6),
                v["p50"], v["p90"], v["p99"], v["p999"],
                c / tck / v["requests"] * 1e6, v["errors"], s / v["requests"]
        }' "$out" >"$out.res"
    else
        # oha's JSON: latencies in seconds; successes and errors counted.
        python3 - "$out" $((c1 - c0)) "$tck" $((s1 - s0)) >"$out.res" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ticks, tck, switches = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
p = d["latencyPercentiles"]
ok = sum(d.get("statusCodeDistribution", {}).values())
# Requests still in flight when -z ends are "aborted due to deadline": an
# artefact of stopping, not a server error.
errs = sum(n for k, n in d.get("errorDistribution", {}).items() if "deadline" not in k)
us = lambda k: round((p.get(k) or 0) * 1e6)
print(f'{d["summary"]["requestsPerSec"]:.0f} {us("p50")} {us("p90")} {us("p99")} {us("p99.9")} '
      f'{ticks / tck / max(ok, 1) * 1e6:.1f} {errs} {switches / max(ok, 1):.3f}')
PY
        cat "$out.res" >&2
    fi
}

# pass NAME: every round, both servers, alternated.
pass() {
    local p=$1
    for round in $(seq "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then order="loopwork tokio"; else order="tokio loopwork"; fi
        for name in $order; do
            if [ "$name" = loopwork ]; then
                start loopwork "$lw_bin" "$THREADS" 127.0.0.1:0
            else
                start tokio "$tokio_bin" --serve "$THREADS" 127.0.0.1:0
            fi
            load "$p" "$name" "$round"
            stop
        done
    done
}

# median: the median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# report PASS TITLE: the per-round table and the median ratios.
report() {
    local p=$1
    echo
    echo "$2"
    echo
    echo "| round | server | requests/s | p50 | p90 | p99 | p99.9 | server CPU per request | server context switches per request | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for round in $(seq "$ROUNDS"); do
        for name in loopwork tokio; do
            awk -v r="$round" -v n="$name" '{
                printf "| %s | %s | %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s µs | %s | %s |\n",
                    r, n, $1, $2 / 1000, $3 / 1000, $4 / 1000, $5 / 1000, $6, $8, $7
            }' "$work/$p.$name.$round.res"
        done
    done
    echo
    local line="median over $ROUNDS rounds of loopwork/tokio:"
    local col
    # Columns of the .res files; 7 (errors) is not a ratio.
    for col in 1 2 3 4 5 6 8; do
        local r what
        what=$(echo "requests/s p50 p90 p99 p99.9 CPU/request - context-switches/request" | cut -d' ' -f$col)
        r=$(for round in $(seq "$ROUNDS"); do
            l=$(cut -d' ' -f$col "$work/$p.loopwork.$round.res")
            t=$(cut -d' ' -f$col "$work/$p.tokio.$round.res")
            awk -v l="$l" -v t="$t" 'BEGIN { if (t > 0) printf "%.3f\n", l / t }'
        done | median)
        line="$line $what $(printf '%.2f' "${r:-0}"),"
    done
    echo "${line%,}"
}

pass peak
peak_title="Peak: wrk $WRK_ARGS, $THREADS server threads, 127.0.0.1, $(nproc) CPUs"
if [ "$RATE" != 0 ]; then
    if [ "$RATE" = auto ]; then
        # 50% of tokio's peak *under oha*: oha costs more CPU per request
        # than wrk, and where client and server share the CPUs (this
        # machine: 2) half of wrk's peak can be past oha's own saturation,
        # which measures queueing, not the tail.
        tokio_peak=$(for round in $(seq "$ROUNDS"); do cut -d' ' -f1 "$work/peak.tokio.$round.res"; done | median)
        for round in $(seq "$CALIBRATE_ROUNDS"); do
            start tokio "$tokio_bin" --serve "$THREADS" 127.0.0.1:0
            load calibrate tokio "$round"
            stop
        done
        oha_peak=$(for round in $(seq "$CALIBRATE_ROUNDS"); do cut -d' ' -f1 "$work/calibrate.tokio.$round.res"; done | median)
        rate=$(awk -v p="$oha_peak" 'BEGIN { printf "%d", p / 2 }')
        rate_why="50% of tokio's median peak under oha, $oha_peak requests/s over $CALIBRATE_ROUNDS run(s); under wrk $tokio_peak"
        echo "http.sh: fixed rate $rate requests/s ($rate_why)" >&2
    else
        rate=$RATE
        rate_why="given"
    fi
    pass rate
fi
report peak "$peak_title"
if [ "$RATE" != 0 ]; then
    report rate "Fixed rate: oha -q $rate ($rate_why) -c $OHA_CONNS -z $OHA_DURATION --latency-correction, $THREADS server threads"
fi
