#!/usr/bin/env bash
# Proof that the loom models can fail: each mutant is a patch
# (loom-tests/mutants/NAME.patch, applied with `patch -p1`) that injects one
# known bug into loopwork's real code, and the models that cover it must
# report a loom failure. Passes only if the clean build passes every model
# and every mutant is caught.
#
# A patch opens with a header that `patch` skips:
#   Mutant: NAME
#   Bug: what the patch breaks, in one line
#   Caught-by: MODEL[#FILTER] ...   (test files in loom-tests/tests, each
#                                    optionally narrowed to tests whose name
#                                    contains FILTER; every one must catch it)
#   Depth: N                        (optional: LOOM_MAX_PREEMPTIONS for a bug
#                                    that needs more preemptions to show)
#
# Caught means: the model's test binary ran at least one test and a test
# failed with a panic inside the model (an assertion, or loom's causality,
# deadlock, leak or branch-budget report). Anything else is a harness
# failure, never a catch: a patch that does not apply cleanly (stale), a
# build error, an unknown test file, a filter that selects no test, a
# timeout, or a cargo error with no panic.
#
# Each mutant is built in its own scratch copy of the workspace
# ($CARGO_TARGET_DIR/mutant-trees/NAME), with the same CARGO_TARGET_DIR as
# the clean run: loom and the other dependencies are compiled once and
# shared. Cargo hashes a workspace member by its path relative to the
# workspace root, the same in every tree, so each mutant also builds through
# its own RUSTC_WORKSPACE_WRAPPER (a script that only runs rustc): the
# wrapper's path is part of the members' hash, which keeps each mutant's
# artifacts apart, and a tree whose files did not change since the last run
# is not rebuilt. To reproduce one mutant by hand:
#   patch -p1 < loom-tests/mutants/park_no_recheck.patch
#   RUSTFLAGS="--cfg loopwork_loom" cargo test -p loom-tests --release --test park_notify
#   patch -p1 -R < loom-tests/mutants/park_no_recheck.patch
#
# Usage: loom-tests/mutants.sh [NAME...]   (default: every patch)
# Env: CARGO_TARGET_DIR (default target/loom, shared with the clean run),
#      LOOM_MAX_PREEMPTIONS (default 2),
#      MUTANT_TIMEOUT (seconds per model run, default 300),
#      BUILD_TIMEOUT (seconds per build, default 900).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$root/$CARGO_TARGET_DIR" ;; esac
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export RUSTFLAGS="--cfg loopwork_loom"
export CARGO_TERM_COLOR=never
run_timeout="${MUTANT_TIMEOUT:-300}"
build_timeout="${BUILD_TIMEOUT:-900}"

mutants_dir="$root/loom-tests/mutants"
trees="$CARGO_TARGET_DIR/mutant-trees"
# What a scratch tree holds: the workspace's manifests, build script and
# sources (benches/ because Cargo.toml names its benchmark targets).
tree_parts=(Cargo.toml Cargo.lock build.rs src loom-tests/Cargo.toml loom-tests/src loom-tests/tests loopwork-macros benches examples)
start=$(date +%s)
status=0
caught=0
failed=0

fail() {
  echo "FAIL: $*"
  status=1
  failed=$((failed + 1))
}

# header FILE KEY: the value of the patch header line "KEY: value".
header() {
  sed -n "s/^$2:[[:space:]]*//p" "$1" | head -n1
}

# sync_tree DIR: makes DIR a copy of the clean workspace parts, rewriting
# only files whose content differs (so cargo's mtime check rebuilds a mutant
# only when its source changed) and removing files the workspace no longer has.
sync_tree() {
  local dir=$1 stage=$1.stage f
  rm -rf "$stage"
  mkdir -p "$stage" "$dir"
  (cd "$root" && cp -r --parents "${tree_parts[@]}" "$stage/")
  if [ -n "${2:-}" ] && ! (cd "$stage" && patch -p1 -s -F0 --no-backup-if-mismatch <"$2" >"$stage.patch.log" 2>&1); then
    cat "$stage.patch.log"
    rm -rf "$stage"
    return 1
  fi
  (cd "$stage" && find . -type f) | while read -r f; do
    if ! cmp -s "$stage/$f" "$dir/$f"; then
      mkdir -p "$(dirname "$dir/$f")"
      cp "$stage/$f" "$dir/$f"
    fi
  done
  (cd "$dir" && find . -type f -not -path './target/*') | while read -r f; do
    [ -e "$stage/$f" ] || rm -f "$dir/$f"
  done
  rm -rf "$stage"
}

# classify LOG RC: "caught: <why>" on a loom failure, else "harness: <why>"
# or "survived". A loom failure is a panic on a test's own thread (libtest
# names the thread after the test; loom runs the model there and reports a
# deadlock, a causality violation, a leak or the branch budget by
# panicking): the test then fails, or the binary aborts when loom's cleanup
# panics again (loom does that after a deadlock).
classify() {
  local log=$1 rc=$2 why
  if [ "$rc" = 124 ]; then echo "harness: timed out after ${run_timeout} s"; return; fi
  if grep -q "no test target named" "$log"; then echo "harness: no such model file"; return; fi
  if grep -q "^error: could not compile\|^error\[E" "$log"; then echo "harness: build error"; return; fi
  if ! grep -qE "^running [1-9][0-9]* tests?$" "$log"; then echo "harness: no test ran (check the filter)"; return; fi
  if [ "$rc" = 0 ]; then echo "survived"; return; fi
  if ! grep -E "^thread '[a-z0-9_:]+' (\([0-9]+\) )?panicked at" "$log" | grep -qv "^thread 'main'"; then
    echo "harness: cargo failed (exit $rc) with no panic in a model"
    return
  fi
  # loom's report or the assertion: the line after the first "panicked at".
  why=$(grep -m1 -A1 "panicked at" "$log" | tail -n1 | cut -c1-90)
  echo "caught: ${why:-a panic in the model}"
}

# Every patch must still apply to the clean tree before anything is built.
names=("$@")
if [ ${#names[@]} = 0 ]; then
  for p in "$mutants_dir"/*.patch; do
    [ -e "$p" ] || { echo "FAIL: no patch in $mutants_dir"; exit 1; }
    names+=("$(basename "$p" .patch)")
  done
fi
for name in "${names[@]}"; do
  p="$mutants_dir/$name.patch"
  if [ ! -f "$p" ]; then
    fail "no mutant $name ($p)"
  elif [ -z "$(header "$p" Caught-by)" ]; then
    fail "$p has no 'Caught-by:' header line: name the model file(s) that must catch it"
  elif ! patch -p1 -s -F0 --dry-run <"$p" >/dev/null 2>&1; then
    fail "$p no longer applies cleanly to the tree (stale patch: regenerate it)"
  fi
done
[ $status = 0 ] || { echo "=== harness errors before any build"; exit 1; }

echo "=== clean build: every model must pass"
if ! timeout "$build_timeout" cargo test -q -p loom-tests --release --no-run; then
  echo "FAIL: the clean models do not build"
  exit 1
fi
if ! timeout "$run_timeout" cargo test -q -p loom-tests --release; then
  echo "FAIL: the clean models fail (or time out)"
  exit 1
fi

for name in "${names[@]}"; do
  p="$mutants_dir/$name.patch"
  depth=$(header "$p" Depth)
  depth="${depth:-$LOOM_MAX_PREEMPTIONS}"
  tree="$trees/$name"
  if ! sync_tree "$tree" "$p"; then
    fail "mutant $name: the patch does not apply to the scratch tree"
    continue
  fi
  wrapper="$trees/$name.rustc"
  printf '#!/bin/sh\nexec "$@"\n' >"$wrapper"
  chmod +x "$wrapper"
  export RUSTC_WORKSPACE_WRAPPER="$wrapper"
  log="$trees/$name.build.log"
  t0=$(date +%s)
  # Only the model files that must catch it: linking every model binary
  # for every mutant would double the run.
  targets=()
  for t in $(header "$p" Caught-by); do targets+=(--test "${t%%#*}"); done
  if ! timeout "$build_timeout" cargo test --manifest-path "$tree/Cargo.toml" \
    -p loom-tests --release --no-run "${targets[@]}" >"$log" 2>&1; then
    fail "mutant $name did not build ($(( $(date +%s) - t0 )) s; log: $log)"
    continue
  fi
  for t in $(header "$p" Caught-by); do
    file="${t%%#*}"
    filter=""
    case "$t" in *#*) filter="${t#*#}" ;; esac
    log="$trees/$name.$file${filter:+.$filter}.log"
    t0=$(date +%s)
    LOOM_MAX_PREEMPTIONS="$depth" timeout "$run_timeout" cargo test \
      --manifest-path "$tree/Cargo.toml" -p loom-tests --release --test "$file" \
      -- $filter >"$log" 2>&1
    rc=$?
    verdict=$(classify "$log" "$rc")
    took="$(( $(date +%s) - t0 )) s"
    case "$verdict" in
      caught:*)
        echo "caught: $name by $t (${verdict#caught: }) ($took)"
        caught=$((caught + 1))
        ;;
      survived) fail "mutant $name survived model $t ($took; log: $log)" ;;
      *) fail "mutant $name, model $t: ${verdict#harness: } ($took; log: $log)" ;;
    esac
  done
done

unset RUSTC_WORKSPACE_WRAPPER
echo "=== mutants done in $(( $(date +%s) - start )) s: $caught catches, $failed failures"
exit $status
