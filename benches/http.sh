#!/usr/bin/env bash
# hyper on loopwork (examples/http_server) vs hyper on tokio
# (benches/http_tokio_server) under wrk, on loopback.
#
#   benches/http.sh                      # 2 server threads, wrk -t2 -c64 -d10s
#   THREADS=4 WRK_ARGS="-t2 -c128 -d20s" benches/http.sh
#
# Builds both servers with the `bench` profile (release + debuginfo), installs
# wrk from Debian's packages if it is missing, starts each server on
# 127.0.0.1 with a free port (the server binds port 0 and prints its address),
# checks that it answers "Hello, world!", runs wrk against it, stops it, and
# prints requests/s and the latency percentiles side by side. The servers run
# one after the other (never both at once); ROUNDS>1 alternates them.
# Every server is killed on exit (trap), and every wrk run is bounded by -d.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
WRK_ARGS=${WRK_ARGS:-"-t2 -c64 -d10s"}
ROUNDS=${ROUNDS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

if ! command -v wrk >/dev/null 2>&1; then
    echo "http.sh: installing wrk (Debian package)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
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

# run NAME CMD...: start the server, wait for its address, check it, run wrk.
run() {
    local name=$1; shift
    local log=$work/$name.server
    "$@" >"$log" 2>&1 &
    pid=$!
    local url=
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
    echo "http.sh: $name on $url, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    # shellcheck disable=SC2086
    wrk $WRK_ARGS --latency "$url/" >"$work/$name.wrk.$round"
    cat "$work/$name.wrk.$round" >&2
    if grep -q "Non-2xx\|Socket errors" "$work/$name.wrk.$round"; then
        echo "http.sh: $name: errors during the run (see above)" >&2
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        run loopwork "$lw_bin" "$THREADS" 127.0.0.1:0
        run tokio "$tokio_bin" --serve "$THREADS" 127.0.0.1:0
    else
        run tokio "$tokio_bin" --serve "$THREADS" 127.0.0.1:0
        run loopwork "$lw_bin" "$THREADS" 127.0.0.1:0
    fi
done

# field FILE LABEL: the value after LABEL in wrk's output (last round wins
# for the per-round table; every round is printed).
field() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
errs() { awk '/Socket errors|Non-2xx/ { $1 = $1; printf "%s; ", $0 }' "$1"; }

echo
echo "wrk $WRK_ARGS --latency, $THREADS server threads, 127.0.0.1, $(nproc) CPUs"
echo
echo "| round | server | requests/s | p50 | p75 | p90 | p99 | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for round in $(seq "$ROUNDS"); do
    for name in loopwork tokio; do
        f=$work/$name.wrk.$round
        e=$(errs "$f")
        echo "| $round | $name | $(rps "$f") | $(field "$f" 50%) | $(field "$f" 75%) | $(field "$f" 90%) | $(field "$f" 99%) | ${e:-none} |"
    done
done
for round in $(seq "$ROUNDS"); do
    l=$(rps "$work/loopwork.wrk.$round"); t=$(rps "$work/tokio.wrk.$round")
    echo "round $round: loopwork/tokio requests/s = $(awk -v l="$l" -v t="$t" 'BEGIN { printf "%.2f", l / t }')"
done
