//! Model 3b: `CallbackHandle::cancel` racing the loop starting the callback
//! (`CallbackState::try_start` in `LocalCallback::run`), asyncio gh-128340.
//!
//! Exactly one of {ran, cancelled}: a `cancel()` that returned `true` means
//! the callback never runs, one that returned `false` means it ran; the
//! handle's `cancelled()` agrees, and a second `cancel()` always fails.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_tests::model;
use loopwork::__loom::CallbackHandle;

#[test]
fn cancel_racing_the_start_has_one_outcome() {
    model(|| {
        let handle = CallbackHandle::pending();
        let runs = Arc::new(AtomicUsize::new(0));

        let h = handle.clone();
        let canceller = thread::spawn(move || h.cancel());

        // This thread is the loop: it drained the callback and runs it.
        let r = runs.clone();
        handle.run_on_loop(move || {
            r.fetch_add(1, SeqCst);
        });

        let cancelled = canceller.join().unwrap();
        let ran = runs.load(SeqCst);
        assert_eq!(
            ran + usize::from(cancelled),
            1,
            "ran {ran} time(s) and cancel() returned {cancelled}"
        );
        assert_eq!(handle.cancelled(), cancelled);
        assert!(!handle.cancel(), "a second cancel() must fail");
    });
}
