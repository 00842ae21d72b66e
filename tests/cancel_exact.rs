//! `ConcurrentFuture::cancel()` is exact (issue 15, defect 2): `true` means
//! the work never completes, `false` means its result is delivered.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn cancel_racing_completion_answers_exactly() {
    common::within(120, "cancel-exact", || {
        let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
        let lp = rt.loop_handle(0);
        let (mut won, mut lost) = (0u32, 0u32);
        for i in 0..20_000u32 {
            let completed = Arc::new(AtomicBool::new(false));
            let c = completed.clone();
            let fut = lp.run_coroutine_threadsafe(async move {
                c.store(true, SeqCst);
                i
            });
            // Vary where the cancel lands: before, during, after the poll.
            for _ in 0..(i % 64) {
                std::hint::spin_loop();
            }
            let cancelled = fut.cancel();
            // The loop runs one task at a time: once this one has run, the
            // cancelled work (if it was being polled) has finished its poll.
            lp.run_coroutine_threadsafe(async {}).result().unwrap();
            if cancelled {
                won += 1;
                assert!(
                    !completed.load(SeqCst),
                    "iteration {i}: cancel() returned true but the work completed"
                );
                assert!(fut.cancelled());
                assert!(fut.result().unwrap_err().is_cancelled());
            } else {
                lost += 1;
                assert!(completed.load(SeqCst));
                assert_eq!(
                    fut.result().unwrap(),
                    i,
                    "a false cancel delivers the value"
                );
            }
        }
        assert_eq!(won + lost, 20_000);
        rt.close();
    });
}

#[test]
fn cancel_from_inside_the_work_wins() {
    let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    let lp = rt.loop_handle(0);
    let (tx, rx) = std::sync::mpsc::channel::<loopwork::handoff::ConcurrentFuture<u32>>();
    let (answer_tx, answer_rx) = std::sync::mpsc::channel();
    let fut = lp.run_coroutine_threadsafe(async move {
        let me = rx.recv().unwrap();
        answer_tx.send(me.cancel()).unwrap();
        7
    });
    // The work gets its own future (a clone of the shared state is not
    // public, so hand over the one we hold and watch through the answer).
    tx.send(fut).unwrap();
    assert!(
        answer_rx.recv().unwrap(),
        "a cancel from inside the poll cannot wait for itself: it wins"
    );
    rt.close();
}
