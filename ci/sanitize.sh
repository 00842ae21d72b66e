#!/usr/bin/env bash
# The test suite (`cargo test --lib --tests`) under nightly AddressSanitizer
# and ThreadSanitizer. Not part of CI: run it by hand before a release or
# after touching unsafe code or a concurrency protocol.
#
#   ci/sanitize.sh            # both
#   ci/sanitize.sh asan|tsan  # one
#
# Needs a nightly toolchain (`rustup toolchain install nightly`). rust-src is
# not needed: we do not use `-Zbuild-std`, so the standard library is *not*
# instrumented:
#  * ASan: allocations made inside std are still tracked (malloc/free are
#    intercepted); only out-of-bounds accesses inside std code are missed.
#  * TSan: the mix of instrumented and uninstrumented code needs
#    `-Cunsafe-allow-abi-mismatch=sanitizer`. Generic std code (Arc, atomics,
#    mpsc, Mutex<T> wrappers) is monomorphised in our crates and so is
#    instrumented; thread spawn/join are intercepted (pthread). Non-generic
#    std internals (the futex behind std's Mutex/Condvar/Once, thread-local
#    destructors) are not, so a race TSan reports *inside std* is noise:
#    those are listed in ci/tsan.supp, each with its reason. Races in
#    loopwork or its dependencies are never suppressed.
# With rust-src installed you can add `-Zbuild-std` (and drop the mismatch
# flag) for a fully instrumented std: SANITIZE_BUILD_STD=1 ci/sanitize.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
which=${1:-all}
base_target=${CARGO_TARGET_DIR:-target}
build_std=()
if [ "${SANITIZE_BUILD_STD:-0}" = 1 ]; then build_std=(-Zbuild-std); fi

run() {
  local name=$1 flags=$2
  echo "=== $name: cargo +nightly test --lib --tests (target $host)"
  # --target keeps build scripts and proc macros uninstrumented.
  RUSTFLAGS="$flags" RUSTDOCFLAGS="$flags" CARGO_TARGET_DIR="$base_target/sanitize-$name" \
    cargo +nightly test "${build_std[@]}" --target "$host" -p loopwork --lib --tests -- --test-threads=2
}

if [ "$which" = all ] || [ "$which" = asan ]; then
  ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1" \
    run asan "-Zsanitizer=address --cfg loopwork_sanitize"
fi
if [ "$which" = all ] || [ "$which" = tsan ]; then
  mismatch="-Cunsafe-allow-abi-mismatch=sanitizer"
  if [ "${SANITIZE_BUILD_STD:-0}" = 1 ]; then mismatch=""; fi
  TSAN_OPTIONS="suppressions=$PWD/ci/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
    run tsan "-Zsanitizer=thread $mismatch --cfg loopwork_sanitize"
fi
echo "=== sanitizers: clean"
