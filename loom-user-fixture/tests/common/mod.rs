//! The fixture's model runner: `loom::model` with a branch budget that fits
//! a runtime, and a way to assert that a buggy model fails.
#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Branches one execution may take. A runtime's build, a few handoffs and
/// its `close` take about 1 500 loom operations; loom's default budget is
/// 1 000. `LOOM_MAX_BRANCHES` overrides it.
pub const MAX_BRANCHES: usize = 10_000;

/// Runs `f` under loom: every interleaving up to `LOOM_MAX_PREEMPTIONS`
/// (loom's default when unset: no bound; CI sets 2).
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = MAX_BRANCHES;
    }
    builder.check(f);
}

/// Runs the model `f`, which must fail: returns the failure's message.
///
/// # Panics
/// If every explored interleaving passes (loom did not find the bug).
pub fn model_fails<F: Fn() + Sync + Send + 'static>(f: F) -> String {
    // loom prints the failing interleaving's panic (the expected one) on
    // stderr; the panic hook is process-wide, so it is left alone.
    match catch_unwind(AssertUnwindSafe(|| model(f))) {
        Ok(()) => panic!("the buggy model passed every interleaving: loom did not find the bug"),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "<non-string panic>".to_owned()),
    }
}
