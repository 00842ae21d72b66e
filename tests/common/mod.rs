//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod logs;
pub mod soak;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Runs `f` on a fresh thread and fails the test if it has not finished
/// within `secs` seconds. Hang detection only: a passing run never waits for
/// the timeout, so this is not a timing assertion.
pub fn within<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(format!("test-{what}"))
        .spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(_) => unreachable!(),
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {secs} s (hang)")
        }
    }
}

/// Waits (yielding, bounded by `secs`) until `cond` holds: for effects that
/// happen on another thread shortly after an event the test caused.
pub fn eventually(secs: u64, what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        thread::yield_now();
    }
}

pub fn runtime(loops: usize) -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(loops)
        .build()
        .expect("runtime starts")
}

/// A future that never completes and records when it is dropped.
pub struct DropFlag(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub mod procs;
