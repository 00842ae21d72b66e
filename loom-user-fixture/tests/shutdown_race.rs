//! Model 3: a foreign thread hands a coroutine to a loop with
//! `run_coroutine_threadsafe` while the main thread shuts the runtime
//! down. The buggy form assumes the coroutine always runs (`unwrap` on the
//! result); the fixed form handles `TaskError::Cancelled`, which a
//! shutdown that wins the race gives.
mod common;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loopwork::TaskError;

fn submit_during_shutdown(fixed: bool) {
    let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    let lh = rt.loop_handle(0);
    let ran = Arc::new(AtomicUsize::new(0));
    let client = {
        let ran = ran.clone();
        loom::thread::spawn(move || {
            let fut = lh.run_coroutine_threadsafe(async move {
                ran.fetch_add(1, SeqCst);
                42
            });
            match fut.result() {
                Ok(v) => assert_eq!(v, 42),
                Err(TaskError::Cancelled) if fixed => {}
                Err(e) => panic!("the coroutine did not run: {e:?}"),
            }
        })
    };
    rt.close();
    client.join().unwrap();
    assert!(ran.load(SeqCst) <= 1, "the coroutine ran twice");
}

#[test]
fn a_shutdown_racing_run_coroutine_threadsafe_cancels_it() {
    let msg = common::model_fails(|| submit_during_shutdown(false));
    assert!(
        msg.contains("the coroutine did not run: Cancelled"),
        "unexpected failure: {msg}"
    );
}

#[test]
fn a_client_that_handles_cancelled_survives_the_shutdown() {
    loom::model(|| submit_during_shutdown(true));
}
