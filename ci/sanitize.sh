#!/usr/bin/env bash
# The test suite (the lib's unit tests and every `tests/*.rs` binary) under
# nightly AddressSanitizer and ThreadSanitizer. The ASan pass runs in CI
# (`.ci/run`) whenever a nightly toolchain is installed; the TSan pass is not
# in CI (it needs the nightly rust-src component, see below): run it by hand
# before a release or after touching unsafe code or a concurrency protocol.
#
#   ci/sanitize.sh            # both
#   ci/sanitize.sh asan|tsan  # one
#
# Every test binary runs to completion (a report does not stop the run), and
# the script prints one line per binary: its tests' result and how many
# sanitizer reports it produced. TSan reports are split in two: those with a
# loopwork frame on a stack (always a finding: investigate, never suppress)
# and those entirely inside non-instrumented std / libtest code. Each
# binary's full log is kept in $CARGO_TARGET_DIR/sanitize-<name>/logs/.
# The script exits non-zero if any binary fails or reports.
#
# Needs a nightly toolchain (`rustup toolchain install nightly`). With its
# rust-src component (`rustup component add rust-src --toolchain nightly`)
# TSan builds std itself with `-Zbuild-std`, so std is instrumented too: that
# is the default whenever rust-src is installed, and the mode in which TSan
# is expected to be clean. SANITIZE_BUILD_STD=0 forces the other mode,
# SANITIZE_BUILD_STD=1 requires build-std. ASan never needs it (malloc/free
# are intercepted; only out-of-bounds accesses inside std code are missed).
#
# Without build-std, TSan mixes instrumented and uninstrumented code
# (`-Cunsafe-allow-abi-mismatch=sanitizer`) and reports false positives:
# generic std code is compiled into our crates *with std's cfgs*, so `Arc`'s
# drop synchronises with `fence(Acquire)`, which TSan does not model (every
# `Arc` free looks racy), and std's `Once` / `Mutex` / mpmc waker lists rely on
# the uninstrumented futex. Reports whose stacks are entirely inside std are
# listed in ci/tsan.supp, each with its reason; a report with a loopwork or
# dependency frame is never suppressed (in that mode expect some: check them
# against a build-std run before believing them).
#
# Env: CARGO_TARGET_DIR (default target; builds go to <it>/sanitize-<name>),
#      SANITIZE_TEST_THREADS (default 2), SANITIZE_BUILD_STD (auto|0|1).
set -uo pipefail
cd "$(dirname "$0")/.."

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
which=${1:-all}
base_target=${CARGO_TARGET_DIR:-target}
threads=${SANITIZE_TEST_THREADS:-2}
sysroot=$(rustc +nightly --print sysroot)
case "${SANITIZE_BUILD_STD:-auto}" in
  1) tsan_build_std=1 ;;
  0) tsan_build_std=0 ;;
  *) if [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then tsan_build_std=1; else tsan_build_std=0; fi ;;
esac
status=0

# run NAME RUSTFLAGS [CARGO_FLAG...]: build every test binary, then run each
# to completion.
run() {
  local name=$1 flags=$2
  shift 2
  local build_std=("$@")
  local dir="$base_target/sanitize-$name"
  local logs="$dir/logs"
  mkdir -p "$logs"
  echo "=== $name: building the test binaries (target $host)"
  # --target keeps build scripts and proc macros uninstrumented.
  local bins
  if ! bins=$(RUSTFLAGS="$flags" RUSTDOCFLAGS="$flags" CARGO_TARGET_DIR="$dir" \
    cargo +nightly test ${build_std[@]+"${build_std[@]}"} --target "$host" -p loopwork --lib --tests \
      --no-run --message-format=json-render-diagnostics 2>"$logs/build.log" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'); then
    echo "FAIL: $name build (log: $logs/build.log)"
    status=1
    return
  fi
  if [ -z "$bins" ]; then
    echo "FAIL: $name: no test binary built (log: $logs/build.log)"
    status=1
    return
  fi
  local bin short log rc t0 result reports ours
  for bin in $bins; do
    short=$(basename "$bin" | sed 's/-[0-9a-f]*$//')
    log="$logs/$short.log"
    t0=$(date +%s)
    "$bin" --test-threads="$threads" >"$log" 2>&1
    rc=$?
    result=$(grep -m1 -E '^test result:' "$log" | sed 's/^test result: //; s/; finished.*//')
    [ -n "$result" ] || result="no result line (rc $rc: crashed or aborted)"
    reports=$(grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer|==[0-9]+==ERROR: LeakSanitizer)' "$log")
    ours=0
    if [ "$name" = tsan ] && [ "$reports" -gt 0 ]; then
      # A report runs from its WARNING line to its SUMMARY line; it is ours
      # if a frame is in this repository's src/ or tests/ (or names loopwork).
      ours=$(awk -v repo="$PWD/" '
        /^WARNING: ThreadSanitizer/ { r = 1; hit = 0 }
        r && (index($0, repo "src/") || index($0, repo "tests/") || /loopwork::/) { hit = 1 }
        /^SUMMARY: ThreadSanitizer/ { if (r && hit) n++; r = 0 }
        END { print n + 0 }' "$log")
    fi
    printf '%-14s rc=%-3s %-4ss %s; reports: %s' "$short" "$rc" "$(( $(date +%s) - t0 ))" "$result" "$reports"
    [ "$name" = tsan ] && printf ' (with loopwork/test frames: %s)' "$ours"
    echo
    if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then status=1; fi
  done
}

if [ "$which" = all ] || [ "$which" = asan ]; then
  # ci/lsan.supp: the one leak a test makes on purpose (a Local of a closed loop).
  ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:halt_on_error=0" \
    LSAN_OPTIONS="suppressions=$PWD/ci/lsan.supp:print_suppressions=0" \
    run asan "-Zsanitizer=address --cfg loopwork_sanitize"
fi
if [ "$which" = all ] || [ "$which" = tsan ]; then
  # halt_on_error=0: report and carry on, so one binary shows all its reports.
  export TSAN_OPTIONS="suppressions=$PWD/ci/tsan.supp:halt_on_error=0:second_deadlock_stack=1"
  if [ "$tsan_build_std" = 1 ]; then
    echo "=== tsan: std instrumented (-Zbuild-std)"
    run tsan "-Zsanitizer=thread --cfg loopwork_sanitize" -Zbuild-std
  else
    echo "=== tsan: std NOT instrumented (no rust-src): expect false positives, see the header"
    run tsan "-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer --cfg loopwork_sanitize"
  fi
fi
if [ $status -eq 0 ]; then
  echo "=== sanitizers: clean"
else
  echo "=== sanitizers: FAILED (see the lines above and the logs)"
fi
exit $status
