//! A way to assert that a buggy model fails.
#![allow(dead_code)]

use loom::model;
use std::panic::{catch_unwind, AssertUnwindSafe};

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
