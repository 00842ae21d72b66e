#!/usr/bin/env bash
# Mutation score of the integration suite on the files that carry
# loopwork's protocols, with cargo-mutants (https://mutants.rs; install with
# `cargo install cargo-mutants`). Far too slow for CI on 2 cores (each
# mutant is an incremental build plus a test run): run it by hand, a file or
# a few at a time, and record the outcome in TESTING.md.
#
# Usage: ci/mutants-suite.sh [FILE...]   (default: every file below)
# Each FILE runs only the test binaries listed for it below (the tests that
# claim to cover it), one mutant at a time (-j 1), each test run bounded by
# TIMEOUT seconds (default 120) and each build by BUILD_TIMEOUT (default
# 900). Results: target/mutants/<file>/mutants.out/{caught,missed,timeout,
# unviable}.txt (log: target/mutants/<file>.log), and a one-line count per
# file on stdout.
set -uo pipefail
cd "$(dirname "$0")/.."

timeout="${TIMEOUT:-120}"
build_timeout="${BUILD_TIMEOUT:-900}"

# file -> the integration test binaries that cover it.
declare -A TESTS=(
  [src/handoff/shield.rs]="promise"
  [src/handoff/promise.rs]="promise"
  [src/handoff/concurrent.rs]="handoff"
  [src/runtime/callbacks.rs]="handoff cancel"
  [src/scheduler/gate.rs]="shutdown handoff"
  [src/scheduler/idle.rs]="stealing spawn idle"
  [src/scheduler/queue/mod.rs]="stealing spawn fairness"
  [src/scheduler/schedulers.rs]="spawn spawn_local stealing"
  [src/scheduler/worker.rs]="spawn spawn_local stealing fairness idle"
  [src/scheduler/shared.rs]="spawn stealing shutdown"
  [src/handoff/oneshot.rs]="promise handoff"
  [src/task/state.rs]="spawn cancel panic"
  [src/task/raw.rs]="spawn cancel panic"
  [src/task/join.rs]="spawn cancel promise"
  [src/task/mod.rs]="spawn cancel"
  [src/task/builder.rs]="spawn api"
  [src/runtime/blocking/pool.rs]="blocking"
  [src/blocking/spawn.rs]="blocking"
  [src/runtime/blocking/task.rs]="blocking"
  [src/blocking/executor.rs]="blocking"
  [src/reactor/readiness.rs]="net"
  [src/runtime/timers.rs]="timers"
)
ORDER=(src/handoff/shield.rs src/handoff/oneshot.rs src/scheduler/shared.rs src/scheduler/worker.rs src/handoff/promise.rs src/scheduler/gate.rs src/runtime/blocking/task.rs
  src/blocking/executor.rs src/blocking/spawn.rs src/runtime/callbacks.rs
  src/handoff/concurrent.rs src/task/builder.rs src/task/raw.rs src/task/join.rs
  src/task/mod.rs src/runtime/blocking/pool.rs src/runtime/timers.rs src/reactor/readiness.rs
  src/scheduler/schedulers.rs src/scheduler/queue/mod.rs src/scheduler/idle.rs
  src/task/state.rs)

files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${ORDER[@]}")
status=0
for f in "${files[@]}"; do
  tests="${TESTS[$f]:-}"
  if [ -z "$tests" ]; then
    echo "FAIL: no test binaries listed for $f in ci/mutants-suite.sh"
    status=1
    continue
  fi
  args=()
  for t in $tests; do args+=(--test "$t"); done
  out="target/mutants/${f//\//_}"
  mkdir -p "$out"
  echo "=== $f (tests: $tests)"
  # --copy-target: start each scratch copy from this tree's target/ (the
  # dependencies are built already); --baseline skip: the suite is known
  # green (run `cargo test` first), and the timeouts are given.
  cargo mutants -f "$f" -j 1 --no-shuffle --baseline skip --copy-target true \
    --timeout "$timeout" --build-timeout "$build_timeout" \
    -o "$out" -- "${args[@]}" >"$out.log" 2>&1
  rc=$?
  # cargo-mutants exits 0 when every mutant was caught, 2 when some were
  # missed, 3 on timeouts: anything else is a harness error.
  case $rc in 0 | 2 | 3) ;; *) echo "FAIL: cargo mutants exited $rc (log: $out.log)"; status=1 ;; esac
  count() { [ -f "$out/mutants.out/$1.txt" ] && wc -l <"$out/mutants.out/$1.txt" || echo 0; }
  echo "$f: caught $(count caught) missed $(count missed) unviable $(count unviable) timeout $(count timeout)"
done
exit $status
