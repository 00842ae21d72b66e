#!/usr/bin/env bash
# Proof that the loom models can fail: each mutant injects one known bug into
# loopwork's real code (`#[cfg(loopwork_mutant = "NAME")]`), and the models
# that cover it must report a failure. Passes only if the clean build passes
# every model and every mutant is caught.
#
# The mutant cfg reaches the workspace crates only, through
# RUSTC_WORKSPACE_WRAPPER: it has the effect of adding
# `--cfg loopwork_mutant="NAME"` to RUSTFLAGS, but the dependencies (loom and
# its tree) are built once and shared by every mutant instead of being rebuilt
# for each. To reproduce one by hand:
#   RUSTFLAGS='--cfg loopwork_loom --cfg loopwork_mutant="park_no_recheck"' \
#     cargo test -p loom-tests --release --test park_notify
#
# Env: CARGO_TARGET_DIR (default target/loom, shared with the clean run),
#      LOOM_MAX_PREEMPTIONS (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export RUSTFLAGS="--cfg loopwork_loom"
export CARGO_TERM_COLOR=never

# mutant[@depth] -> the test files (models) that must catch it, each
# optionally narrowed to one test with #filter; @depth overrides
# LOOM_MAX_PREEMPTIONS for a bug that needs more preemptions to show.
MUTANTS=(
  "task_ref_dec_relaxed:task_state"
  "state_to_idle_drop_notified:task_state"
  "join_waker_no_recheck:task_state"
  "idle_no_fence:park_notify"
  "idle_notify_skip_claim:park_notify"
  # Needs three preemptions (a phantom wake ticket, see Idle::notify_one).
  "idle_notify_no_retry@3:park_notify#park_racing"
  "park_no_recheck:park_notify inbox"
  "inbox_skip_notify:inbox"
  "steal_events_no_renotify:event_steal"
  "steal_events_no_precheck:event_steal#a_send_racing"
  "gate_close_no_wait:shutdown_gate"
  "gate_enter_no_check:shutdown_gate"
  "cf_resolve_twice:concurrent_future"
  "cf_no_notify:concurrent_future"
  "callback_cancel_no_cas:callback_cancel"
  "local_drop_here:local_drop"
  "loop_exit_no_drain:local_drop#a_value_sent_home"
  "readiness_clear_ignores_tick:reactor_readiness#an_edge_between reactor_readiness#an_edge_racing"
  "readiness_dispatch_no_tick:reactor_readiness#an_edge_between"
  "readiness_poll_ready_no_check:reactor_readiness#an_edge_racing"
  "readiness_poll_ready_no_recheck:reactor_readiness#an_edge_racing"
  "readiness_dispatch_ready_last:reactor_readiness#an_edge_racing"
  "readiness_dispatch_wakes_one:reactor_readiness#one_edge"
  "readiness_oneshot_no_rearm:reactor_readiness#a_oneshot_reader"
  "readiness_rearm_after_unlock:reactor_readiness#a_oneshot_rearm"
  "readiness_dispatch_no_rearm:reactor_readiness#a_oneshot_rearm"
  "readiness_drained_resamples_tick:reactor_readiness#an_edge_between_a_drained"
  "readiness_drained_ignores_closed:reactor_readiness#a_drained_read_after"
)

wrappers="$CARGO_TARGET_DIR/mutant-wrappers"
mkdir -p "$wrappers"
start=$(date +%s)
status=0

echo "=== clean build: every model must pass"
if ! cargo test -q -p loom-tests --release; then
  echo "FAIL: the clean models fail"
  exit 1
fi

for entry in "${MUTANTS[@]}"; do
  name="${entry%%:*}"
  tests="${entry#*:}"
  depth="$LOOM_MAX_PREEMPTIONS"
  case "$name" in *@*) depth="${name#*@}"; name="${name%@*}";; esac
  # One wrapper script per mutant: cargo fingerprints the wrapper's path, so
  # each mutant's build is cached separately and switching costs no rebuild.
  w="$wrappers/$name"
  printf '#!/bin/sh\nexec "$@" --cfg '"'"'loopwork_mutant="%s"'"'"'\n' "$name" > "$w"
  chmod +x "$w"
  for t in $tests; do
    t0=$(date +%s)
    log="$wrappers/$name.${t%%#*}.log"
    file="${t%%#*}"
    filter=""
    case "$t" in *#*) filter="${t#*#}";; esac
    if LOOM_MAX_PREEMPTIONS="$depth" RUSTC_WORKSPACE_WRAPPER="$w" \
      cargo test -p loom-tests --release --test "$file" $filter >"$log" 2>&1; then
      echo "FAIL: mutant $name survived model $t ($(( $(date +%s) - t0 )) s; log: $log)"
      status=1
    elif grep -q "^error: could not compile" "$log"; then
      echo "FAIL: mutant $name did not build (log: $log)"
      status=1
    else
      why=$(grep -m1 -oE "deadlock|Causality violation|maximum number of branches|leaked|panicked at [^:]*tests/[^:]*:[0-9]+" "$log" || true)
      echo "caught: $name by $t ($why) ($(( $(date +%s) - t0 )) s)"
    fi
  done
done

echo "=== mutants done in $(( $(date +%s) - start )) s"
exit $status
