//! What shutdown says in the log (target `loopwork`): the callbacks it
//! dropped, and the loops that hold up a `close()`. Its own binary: it
//! installs a capturing logger.

mod common;

use std::sync::mpsc;

use common::logs::{all_records, capture, records_with, wait_for_record};

/// Holds the loop in a callback until the returned sender is used.
fn hold_loop(lp: &loopwork::runtime::LoopHandle) -> mpsc::Sender<()> {
    let (go, wait) = mpsc::channel::<()>();
    let (held_tx, held) = mpsc::channel::<()>();
    lp.call_soon_threadsafe(move || {
        held_tx.send(()).unwrap();
        let _ = wait.recv();
    })
    .unwrap();
    held.recv().unwrap();
    go
}

#[test]
fn callbacks_dropped_at_shutdown_are_counted_at_warn_in_debug_mode() {
    capture();
    common::within(30, "dropped-callbacks-log", || {
        let rt = loopwork::Runtime::builder()
            .loops(1)
            .debug(true)
            .thread_name("droplog")
            .build()
            .unwrap();
        let lp = rt.loop_handle(0);
        let go = hold_loop(&lp);
        for _ in 0..3 {
            lp.call_soon_threadsafe(|| {}).unwrap();
        }
        let lp2 = lp.clone();
        let closer = std::thread::spawn(move || rt.close());
        common::eventually(10, "close() closes the gate", || lp2.is_closed());
        go.send(()).unwrap();
        closer.join().unwrap();
        let lines = records_with("3 callback(s) accepted before close() never ran");
        assert_eq!(lines.len(), 1, "{:?}", all_records());
        assert!(lines[0].starts_with("WARN"), "{lines:?}");
    });
}

#[test]
fn close_held_up_by_a_blocked_loop_says_which_loop_every_ten_seconds() {
    capture();
    common::within(60, "close-warns", || {
        let rt = loopwork::Runtime::builder()
            .loops(2)
            .debug(false)
            .build()
            .unwrap();
        let go = hold_loop(&rt.loop_handle(1));
        let closer = std::thread::spawn(move || rt.close());
        // The warning is the event waited for (close() issues it after 10 s).
        wait_for_record("close: loops [1] are still busy", 40);
        go.send(()).unwrap();
        closer.join().unwrap();
        let lines = records_with("close: loops [1] are still busy");
        assert!(
            lines[0].starts_with("WARN") && lines[0].contains("shutdown_timeout"),
            "{lines:?}"
        );
    });
}

#[test]
fn dropping_a_runtime_with_a_blocked_loop_returns_and_reports_it_detached() {
    capture();
    common::within(60, "drop-detaches", || {
        let rt = loopwork::Runtime::builder()
            .loops(2)
            .debug(false)
            .build()
            .unwrap();
        let go = hold_loop(&rt.loop_handle(1));
        // Returns (after its 10 s bound) while loop 1 is still held.
        std::thread::spawn(move || drop(rt)).join().unwrap();
        let lines = records_with("loops [1] were still busy");
        assert_eq!(lines.len(), 1, "{:?}", all_records());
        assert!(
            lines[0].starts_with("WARN") && lines[0].contains("detached"),
            "{lines:?}"
        );
        go.send(()).unwrap();
    });
}
