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
# 900); MUTANTS_ARGS adds cargo-mutants options (e.g. `-F REGEX`),
# EXTRA_TESTS more test binaries, NO_UNIT=1 leaves out "lib". RERUN_MISSED=1 re-runs only the mutants
# the file's last full run missed (results in target/mutants/<file>.rerun).
# Results: target/mutants/<file>/mutants.out/{caught,missed,timeout,
# unviable}.txt (log: target/mutants/<file>.log), and a one-line count per
# file on stdout.
set -uo pipefail
cd "$(dirname "$0")/.."

timeout="${TIMEOUT:-120}"
build_timeout="${BUILD_TIMEOUT:-900}"
# One target dir for every mutant and file (cargo-mutants builds its scratch
# copy of the tree into it, -j 1 so never two at once): its incremental state
# carries from one mutant to the next, and no 2 GB copy of target/ per file.
# No debuginfo: links take a fraction of the time and no test reads it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/mutants-build}"
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
# The machine is shared: yield the CPU to everyone else's builds.
nice=(nice -n "${NICE:-19}")

# file -> the test binaries that cover it ("lib": the crate's unit tests,
# the `mod tests` at the end of a file).
declare -A TESTS=(
  [src/handoff/shield.rs]="promise"
  [src/handoff/promise.rs]="promise"
  [src/handoff/concurrent.rs]="lib handoff cancel_exact misuse debug_reports await_graph"
  [src/runtime/callbacks.rs]="handoff cancel"
  [src/scheduler/gate.rs]="lib shutdown handoff"
  [src/scheduler/park.rs]="lib idle stealing spawn worker_protocol wake_routing"
  [src/scheduler/spin.rs]="lib idle stealing fairness cancel_exact loop_diagnostics"
  [src/task/directory.rs]="lib api await_graph task_protocol wake_routing"
  [src/task/stats.rs]="lib api loop_diagnostics"
  [src/task/coop.rs]="lib coop fairness"
  [src/task/yield_now.rs]="lib spawn fairness debug_reports"
  [src/task/error.rs]="lib cancel panic misuse promise"
  [src/scheduler/idle.rs]="lib stealing spawn idle"
  [src/scheduler/schedulers.rs]="spawn spawn_local stealing shutdown coop debug wake_routing debug_reports loop_diagnostics await_graph"
  [src/scheduler/worker.rs]="lib spawn spawn_local stealing fairness idle worker_protocol wake_routing shutdown debug metrics panic coop handoff loop_diagnostics"
  [src/scheduler/shared.rs]="lib spawn stealing shutdown idle"
  [src/handoff/oneshot.rs]="lib promise handoff"
  [src/task/state.rs]="lib spawn cancel panic stealing shutdown task_protocol"
  [src/task/raw.rs]="lib spawn cancel panic shutdown task_protocol"
  [src/task/join.rs]="spawn cancel promise timers api task_protocol"
  [src/task/mod.rs]="lib spawn cancel api debug_reports task_protocol panic await_graph misuse"
  [src/task/trace.rs]="lib await_graph debug_reports"
  [src/task/frame.rs]="await_graph"
  [src/task/info.rs]="await_graph debug_reports metrics"
  [src/task/builder.rs]="spawn api debug_reports"
  [src/runtime/blocking/pool.rs]="lib blocking blocking_pool_protocol"
  [src/blocking/spawn.rs]="blocking"
  [src/runtime/blocking/task.rs]="lib blocking"
  [src/blocking/executor.rs]="blocking"
  [src/reactor/readiness.rs]="lib net fd_watch"
  [src/runtime/timers.rs]="lib timers cancel"
)
# file -> "parent item": a module declared inside a macro (see below).
declare -A HIDDEN=(
  [src/runtime/timers.rs]="src/runtime/mod.rs pub(crate) mod timers;"
)
ORDER=(
  # the protocols first (state word, idle, concurrent future, oneshot,
  # timers, readiness), the big worker.rs last
  src/task/state.rs src/scheduler/idle.rs src/handoff/concurrent.rs src/handoff/oneshot.rs
  src/runtime/timers.rs src/reactor/readiness.rs src/task/join.rs src/task/raw.rs
  src/scheduler/schedulers.rs src/scheduler/shared.rs src/runtime/blocking/pool.rs
  src/runtime/blocking/task.rs src/handoff/shield.rs src/handoff/promise.rs
  src/runtime/callbacks.rs src/scheduler/gate.rs src/blocking/executor.rs
  src/task/builder.rs src/task/mod.rs src/blocking/spawn.rs src/scheduler/worker.rs
  src/scheduler/park.rs src/scheduler/spin.rs src/task/directory.rs src/task/stats.rs
  src/task/coop.rs src/task/yield_now.rs src/task/error.rs src/task/info.rs
  src/task/frame.rs src/task/trace.rs)

files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${ORDER[@]}")
status=0
for f in "${files[@]}"; do
  tests="${TESTS[$f]:-}${EXTRA_TESTS:+ $EXTRA_TESTS}"
  # NO_UNIT=1: the integration tests alone (the issue's score).
  [ -z "${NO_UNIT:-}" ] || tests="$(printf '%s\n' $tests | grep -vx lib | xargs)"
  if [ -z "$tests" ]; then
    echo "FAIL: no test binaries listed for $f in ci/mutants-suite.sh"
    status=1
    continue
  fi
  args=()
  # -C: to the build as well as the test run, so a mutant builds only the
  # listed binaries ("lib" = the crate's own unit tests), not all of them.
  for t in $tests; do
    if [ "$t" = lib ]; then args+=(--cargo-arg=--lib); else args+=("--cargo-arg=--test=$t"); fi
  done
  out="$PWD/target/mutants/${f//\//_}"
  rerun=()
  if [ -n "${RERUN_MISSED:-}" ]; then
    # Only the mutants the last full run of this file missed (after tests
    # were added): one exact -F per name.
    [ -s "$out/mutants.out/missed.txt" ] || { echo "$f: nothing missed to re-run"; continue; }
    while IFS= read -r m; do
      rerun+=(-F "^$(printf '%s' "$m" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$")
    done <"$out/mutants.out/missed.txt"
    out="$out.rerun"
  fi
  mkdir -p "$out"
  echo "=== $f (tests: $tests)"
  tree=.
  if [ -n "${HIDDEN[$f]:-}" ]; then
    # cargo-mutants finds a file only by following `mod` items, never into a
    # macro's input: a module declared inside `cfg_not_loom! { .. }` is not
    # seen. Mutate a scratch copy of the tree in which that `mod` item is
    # moved out of the macro, with the `#[cfg(not(loopwork_loom))]` the
    # macro would give it (the same crate).
    read -r parent item <<<"${HIDDEN[$f]}"
    tree="$(mktemp -d)/loopwork"
    mkdir -p "$tree"
    git ls-files -z --cached --others --exclude-standard | tar -cf - --null -T - | tar -xf - -C "$tree"
    grep -q "^ *$item *\$" "$tree/$parent" || { echo "FAIL: '$item' not in $parent"; status=1; continue; }
    sed -i "/^ *${item//\//\\/} *\$/d" "$tree/$parent"
    printf '\n#[cfg(not(loopwork_loom))]\n%s\n' "$item" >>"$tree/$parent"
    trap 'rm -rf "$(dirname "$tree")"' EXIT
  fi
  # --baseline skip: the suite is known green (run `cargo test` first; see
  # TESTING.md for the baseline), and the timeouts are given.
  "${nice[@]}" cargo mutants -d "$tree" -f "$f" -j 1 --no-shuffle --baseline skip --copy-target false \
    --timeout "$timeout" --build-timeout "$build_timeout" \
    "${args[@]}" "${rerun[@]}" ${MUTANTS_ARGS:-} -o "$out" >"$out.log" 2>&1
  rc=$?
  # cargo-mutants exits 0 when every mutant was caught, 2 when some were
  # missed, 3 on timeouts: anything else is a harness error.
  case $rc in 0 | 2 | 3) ;; *) echo "FAIL: cargo mutants exited $rc (log: $out.log)"; status=1 ;; esac
  count() { [ -f "$out/mutants.out/$1.txt" ] && wc -l <"$out/mutants.out/$1.txt" || echo 0; }
  echo "$f: caught $(count caught) missed $(count missed) unviable $(count unviable) timeout $(count timeout)"
done
exit $status
