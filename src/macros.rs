//! What `#[loopwork::main]` and `#[loopwork::test]` expand to call (feature
//! `macros`). Not public API: only the generated code names it, by the
//! absolute path `::loopwork::__private`, and it may change at any time.

use crate::runtime::{Builder, Runtime};
use std::future::Future;

/// Starts a runtime from `builder`, runs `fut` on the calling thread to
/// completion, and closes the runtime, as [`crate::run`] does with the
/// default builder. A panic in `fut` propagates; the runtime is then shut
/// down by its `Drop` (bounded by its shutdown timeout).
///
/// # Panics
/// If the runtime cannot be started, naming the attribute and the cause.
#[doc(hidden)]
#[track_caller]
pub fn block_on<F: Future>(builder: Builder, fut: F) -> F::Output {
    let rt: Runtime = builder.build().unwrap_or_else(|e| {
        panic!("#[loopwork::main] / #[loopwork::test]: cannot start the runtime: {e}")
    });
    let out = rt.block_on(fut);
    rt.close();
    out
}
