//! Signals sent to the test process itself.
//!
//! The tests of this binary share one process, and so its signal
//! dispositions: each test uses its own signal, which no other test uses.

mod common;

use loopwork::signal::{ctrl_c, signal, Signal, SignalKind};
use std::future::poll_fn;
use std::sync::mpsc;
use std::task::Poll;

fn raise(signum: libc::c_int) {
    // SAFETY: raise only sends a signal, for which a handler is installed.
    assert_eq!(unsafe { libc::raise(signum) }, 0);
}

/// One poll of the listener: whether a delivery was waiting.
async fn has_delivery(listener: &mut Signal) -> bool {
    poll_fn(|cx| Poll::Ready(listener.poll_recv(cx).is_ready())).await
}

#[test]
fn every_listener_of_a_signal_gets_each_delivery() {
    common::within(30, "signal-fanout", || {
        let rt = common::runtime(2);
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let ready = ready_tx.clone();
                rt.loop_handle(i)
                    .spawn_local_threadsafe(move || async move {
                        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
                        ready.send(()).unwrap();
                        usr1.recv().await;
                        loopwork::current_loop().id()
                    })
            })
            .collect();
        ready_rx.recv().unwrap();
        ready_rx.recv().unwrap();
        raise(libc::SIGUSR1);
        let mut loops: Vec<usize> = waiters.into_iter().map(|w| w.result().unwrap()).collect();
        loops.sort();
        assert_eq!(
            loops,
            [0, 1],
            "each listener, on its own loop, saw the delivery"
        );
        rt.close();
    });
}

#[test]
fn a_delivery_while_nobody_listens_is_kept_for_the_next_listener() {
    common::within(30, "signal-kept", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            // Installs the handler; then nobody listens.
            drop(signal(SignalKind::hangup()).unwrap());
            raise(libc::SIGHUP);
            let mut hup = signal(SignalKind::hangup()).unwrap();
            assert!(has_delivery(&mut hup).await, "the orphan delivery was kept");
            assert!(!has_delivery(&mut hup).await, "and taken only once");
        });
        rt.close();
    });
}

#[test]
fn a_new_listener_does_not_see_deliveries_a_live_one_has_yet_to_take() {
    common::within(30, "signal-late", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            let mut early = signal(SignalKind::user_defined2()).unwrap();
            raise(libc::SIGUSR2);
            let mut late = signal(SignalKind::user_defined2()).unwrap();
            assert!(
                !has_delivery(&mut late).await,
                "it came before `late` existed"
            );
            assert!(has_delivery(&mut early).await);
            raise(libc::SIGUSR2);
            late.recv().await;
            early.recv().await;
        });
        rt.close();
    });
}

#[test]
fn deliveries_between_two_waits_are_kept_and_coalesce_into_one() {
    common::within(30, "signal-coalesce", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            let mut winch = signal(SignalKind::window_change()).unwrap();
            raise(libc::SIGWINCH);
            raise(libc::SIGWINCH);
            winch.recv().await;
            assert!(
                !has_delivery(&mut winch).await,
                "two deliveries, one wake-up"
            );
        });
        rt.close();
    });
}

#[test]
fn a_listener_waiting_on_a_loop_is_woken_by_a_signal_from_another_thread() {
    common::within(30, "signal-cross-thread", || {
        let rt = common::runtime(2);
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiter = rt.handle().spawn(async move {
            let mut term = signal(SignalKind::terminate()).unwrap();
            // Wait once with nothing delivered, so the listener is parked
            // in the reactor when the signal comes.
            assert!(!has_delivery(&mut term).await);
            ready_tx.send(()).unwrap();
            term.recv().await;
        });
        ready_rx.recv().unwrap();
        // SAFETY: kill only sends a signal, for which a handler is installed.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
        rt.block_on(waiter).unwrap();
        rt.close();
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    common::within(30, "ctrl-c", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            let stop = ctrl_c();
            raise(libc::SIGINT);
            stop.await.unwrap();
        });
        rt.close();
    });
}

#[test]
fn a_listener_can_be_awaited_from_a_foreign_threads_block_on() {
    common::within(30, "signal-block-on", || {
        let rt = common::runtime(1);
        let handle = rt.handle();
        let mut alarm = signal(SignalKind::alarm()).unwrap();
        raise(libc::SIGALRM);
        std::thread::spawn(move || handle.block_on(async move { alarm.recv().await }))
            .join()
            .unwrap();
        rt.close();
    });
}

#[test]
fn signals_that_cannot_be_caught_are_refused_with_a_message() {
    for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, 200] {
        let err = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{signum}");
        assert!(err.to_string().contains("cannot be listened for"), "{err}");
    }
}

#[test]
fn a_listener_is_a_stream_of_deliveries() {
    use futures::StreamExt;
    common::within(30, "signal-stream", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            let mut quit = signal(SignalKind::quit()).unwrap();
            for _ in 0..3 {
                raise(libc::SIGQUIT);
                assert_eq!(quit.next().await, Some(()));
            }
        });
        rt.close();
    });
}
