//! Faults at shutdown: nothing accepted is lost silently, and nothing waits
//! forever on a runtime that has closed (issue 15, defects 1, 3 and 5).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

/// A production-mode runtime (debug mode would turn the misuses tested here
/// into panics, whatever `LOOPWORK_DEBUG` says).
fn production(loops: usize) -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(loops)
        .debug(false)
        .build()
        .unwrap()
}

/// Polls `inner`, and sends on `polled` after its first poll returned
/// `Pending`: the test then knows the wait has begun.
struct Signal<F> {
    inner: Pin<Box<F>>,
    polled: Option<mpsc::Sender<()>>,
}

impl<F: Future> Future for Signal<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let r = self.inner.as_mut().poll(cx);
        if r.is_pending() {
            if let Some(tx) = self.polled.take() {
                tx.send(()).unwrap();
            }
        }
        r
    }
}

fn signal<F: Future>(inner: F) -> (Signal<F>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (
        Signal {
            inner: Box::pin(inner),
            polled: Some(tx),
        },
        rx,
    )
}

#[test]
fn callbacks_accepted_before_close_either_run_or_report_dropped() {
    common::within(30, "callbacks-at-close", || {
        let rt = production(1);
        let lp = rt.loop_handle(0);
        // Hold the loop in a callback, so what follows is still queued when
        // close() runs.
        let (go, wait) = mpsc::channel::<()>();
        let (held_tx, held) = mpsc::channel::<()>();
        lp.call_soon_threadsafe(move || {
            held_tx.send(()).unwrap();
            wait.recv().unwrap();
        })
        .unwrap();
        held.recv().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..100 {
            let ran = ran.clone();
            handles.push(
                lp.call_soon_threadsafe(move || {
                    ran.fetch_add(1, SeqCst);
                })
                .unwrap(),
            );
        }
        let lp2 = lp.clone();
        let closer = std::thread::spawn(move || rt.close());
        common::eventually(10, "close() closes the gate", || lp2.is_closed());
        go.send(()).unwrap();
        closer.join().unwrap();
        let mut dropped = 0;
        for h in &handles {
            // None ran: they were behind the held callback when the gate closed.
            assert!(
                !h.cancel(),
                "cancel() must not claim a callback the loop dropped"
            );
            assert!(!h.cancelled());
            assert!(
                h.dropped(),
                "an accepted callback that never ran reports dropped()"
            );
            dropped += 1;
        }
        assert_eq!(ran.load(SeqCst), 0);
        assert_eq!(dropped, 100);
    });
}

#[test]
fn call_soon_from_a_foreign_thread_after_close_reports_dropped() {
    let rt = production(1);
    let lp = rt.loop_handle(0);
    rt.close();
    assert_eq!(
        lp.call_soon_threadsafe(|| {}).unwrap_err().to_string(),
        "the loopwork runtime is closed"
    );
    let h = lp.call_soon(|| unreachable!("a closed loop runs nothing"));
    assert!(h.dropped());
    assert!(!h.cancelled());
    assert!(!h.cancel());
}

#[test]
fn wait_for_on_a_closed_runtime_returns_elapsed_at_once() {
    common::within(30, "wait-for-after-close", || {
        let rt = production(2);
        let handle = rt.handle();
        rt.close();
        let r = handle.block_on(loopwork::wait_for(
            Duration::from_secs(3600),
            std::future::pending::<()>(),
        ));
        assert!(
            r.is_err(),
            "wait_for on a closed runtime times out instead of waiting"
        );
        handle.block_on(loopwork::sleep(Duration::from_secs(3600)));
    });
}

#[test]
fn a_sleep_waiting_in_a_foreign_block_on_completes_when_the_runtime_closes() {
    common::within(30, "sleep-across-close", || {
        let rt = production(2);
        let handle = rt.handle();
        let (sleep, waiting) = signal(loopwork::sleep(Duration::from_secs(3600)));
        let (wf, wf_waiting) = signal(loopwork::wait_for(
            Duration::from_secs(3600),
            std::future::pending::<()>(),
        ));
        let h2 = handle.clone();
        let sleeper = std::thread::spawn(move || handle.block_on(sleep));
        let waiter = std::thread::spawn(move || h2.block_on(wf));
        waiting.recv().unwrap();
        wf_waiting.recv().unwrap();
        rt.close();
        sleeper.join().unwrap();
        assert!(waiter.join().unwrap().is_err());
    });
}

#[test]
fn an_accept_waiting_in_a_foreign_block_on_fails_when_the_runtime_closes() {
    common::within(30, "accept-across-close", || {
        let rt = production(2);
        let handle = rt.handle();
        let (tx, rx) = mpsc::channel();
        let acceptor = std::thread::spawn(move || {
            handle.block_on(async move {
                let listener = loopwork::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap();
                let (accept, waiting) = signal(listener.accept());
                tx.send(waiting).unwrap();
                let r = accept.await.map(|_| ());
                (r, listener)
            })
        });
        rx.recv().unwrap().recv().unwrap();
        rt.close();
        let (r, listener) = acceptor.join().unwrap();
        let err = r.unwrap_err();
        assert!(
            err.to_string()
                .contains("loopwork runtime of this I/O object is closed"),
            "the error names the closed runtime: {err}"
        );
        // Later operations fail the same way, at once.
        let again = futures::executor::block_on(listener.accept())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(again.kind(), err.kind());
    });
}

#[test]
fn blocking_on_a_sleep_inside_a_task_completes_in_production_mode() {
    common::within(30, "block-on-sleep-in-task", || {
        for loops in [1, 2] {
            let rt = production(loops);
            let handle = rt.handle();
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let task = rt.handle().spawn(async move {
                // A misuse (it stalls this loop), but it must not hang.
                handle.block_on(loopwork::sleep(Duration::from_millis(10)));
                d.store(true, SeqCst);
            });
            rt.block_on(task).unwrap();
            assert!(done.load(SeqCst));
            rt.close();
        }
    });
}
