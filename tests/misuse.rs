//! Misuse that had no test of its own: each gets an error value, a named
//! panic, or a documented behaviour, never a hang or a silent loss (the
//! table in `RELIABILITY.md` points at these tests).

mod common;

use loopwork::handoff::InvalidState;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn production(loops: usize) -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(loops)
        .debug(false)
        .build()
        .unwrap()
}

#[test]
fn set_result_after_the_future_was_dropped_is_invalid_state_cancelled() {
    let (p, f) = loopwork::handoff::promise::<String>();
    drop(f);
    assert!(p.is_cancelled());
    assert_eq!(
        p.set_result("nobody awaits this".into()),
        Err(InvalidState::Cancelled)
    );
}

#[test]
fn loop_handle_out_of_range_panics_naming_the_range() {
    let rt = common::runtime(2);
    let handle = rt.handle();
    let msg = panic_message(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.loop_handle(5)))
            .unwrap_err(),
    );
    assert!(
        msg.contains("loop_handle(5)") && msg.contains("2 loops"),
        "{msg}"
    );
    rt.close();
}

#[test]
fn zero_loops_panics_naming_the_fix() {
    let msg = panic_message(
        std::panic::catch_unwind(|| loopwork::Runtime::builder().loops(0)).unwrap_err(),
    );
    assert!(
        msg.contains("Builder::loops(0)") && msg.contains("at least one loop"),
        "{msg}"
    );
}

#[test]
fn every_thread_safe_submission_after_close_is_refused_or_cancelled() {
    let rt = common::runtime(1);
    let handle = rt.handle();
    let lp = rt.loop_handle(0);
    rt.close();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let cf = lp.run_coroutine_threadsafe(async move {
        r.fetch_add(1, SeqCst);
    });
    assert!(cf.done() && cf.cancelled());
    assert!(cf.result().unwrap_err().is_cancelled());
    let r = ran.clone();
    let cf = lp.spawn_local_threadsafe(move || async move {
        r.fetch_add(1, SeqCst);
    });
    assert!(cf.result().unwrap_err().is_cancelled());
    let r = ran.clone();
    let t = lp.run_in_executor(move || {
        r.fetch_add(1, SeqCst);
    });
    assert!(futures::executor::block_on(t).unwrap_err().is_cancelled());
    // The free function, inside block_on of the closed runtime.
    let r = ran.clone();
    let joined = handle.block_on(async move {
        loopwork::spawn(async move {
            r.fetch_add(1, SeqCst);
        })
        .await
    });
    assert!(joined.unwrap_err().is_cancelled());
    assert_eq!(ran.load(SeqCst), 0, "nothing runs on a closed runtime");
}

#[test]
fn dropping_the_runtime_inside_its_own_task_shuts_it_down_without_waiting_for_itself() {
    common::within(60, "drop-in-own-task", || {
        let rt = production(2);
        let handle = rt.handle();
        let lp = rt.loop_handle(0);
        let (tx, rx) = mpsc::channel();
        lp.run_coroutine_threadsafe(async move {
            drop(rt);
            tx.send(()).unwrap();
        })
        .add_done_callback(|_| {});
        // The drop returned on the loop (it does not wait for its own loop).
        rx.recv().unwrap();
        assert!(handle.is_closed());
        // The loop that ran it shuts itself down once the task returns.
        common::eventually(30, "the dropping loop shuts down", || lp.is_closed());
        assert!(handle.try_spawn(async {}).is_err());
    });
}

#[test]
fn blocking_on_work_pinned_to_the_waiting_loop_panics_in_every_mode() {
    common::within(30, "cf-own-loop", || {
        for debug in [false, true] {
            let rt = loopwork::Runtime::builder()
                .loops(1)
                .debug(debug)
                .build()
                .unwrap();
            let lp = rt.loop_handle(0);
            let lp2 = lp.clone();
            let outer = lp.run_coroutine_threadsafe(async move {
                // Waits, on loop 0, for work that only loop 0 can run.
                lp2.run_coroutine_threadsafe(async { 1 }).result()
            });
            let err = outer.result().unwrap_err();
            let msg = err.into_panic().unwrap().message().to_owned();
            assert!(msg.contains("ConcurrentFuture::result"), "{msg}");
            assert!(msg.contains("deadlock"), "debug={debug}: {msg}");
            rt.close();
        }
    });
}
