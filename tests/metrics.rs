//! `Runtime::metrics()`: each figure moves when, and only where, the thing
//! it counts happens.

mod common;

use common::within;
use loopwork::runtime::Builder;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

fn runtime(loops: usize, debug: bool) -> loopwork::Runtime {
    Builder::new().loops(loops).debug(debug).build().unwrap()
}

#[test]
fn callbacks_and_inbox_items_are_counted_on_their_loop() {
    let rt = runtime(2, false);
    let before = rt.metrics();
    let (tx, rx) = mpsc::channel();
    for _ in 0..10 {
        let tx = tx.clone();
        rt.loop_handle(1)
            .call_soon_threadsafe(move || tx.send(()).unwrap())
            .unwrap();
    }
    for _ in 0..10 {
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    // A loop adds its batch of callbacks to the count after the batch
    // ran: the last callback's message can arrive first.
    common::eventually(30, "the callbacks counted", || {
        rt.metrics().loops[1].callbacks - before.loops[1].callbacks >= 10
    });
    let after = rt.metrics();
    assert_eq!(after.loops[1].callbacks - before.loops[1].callbacks, 10);
    assert_eq!(after.loops[1].inbox_items - before.loops[1].inbox_items, 10);
    assert_eq!(after.loops[0].callbacks, before.loops[0].callbacks);
    rt.close();
}

#[test]
fn polls_spawns_and_injector_pushes_are_counted() {
    let rt = runtime(1, false);
    let before = rt.metrics();
    for _ in 0..5 {
        rt.block_on(rt.handle().spawn(async {})).unwrap();
    }
    rt.block_on(rt.handle().spawn(async {
        loopwork::spawn(async {}).await.unwrap();
    }))
    .unwrap();
    let after = rt.metrics();
    assert!(
        after.injector_pushes - before.injector_pushes >= 6,
        "{after:?}"
    );
    assert!(
        after.loops[0].polls - before.loops[0].polls >= 7,
        "{after:?}"
    );
    assert_eq!(
        after.loops[0].spawned - before.loops[0].spawned,
        1,
        "{after:?}"
    );
    rt.close();
}

#[test]
fn an_idle_loop_counts_its_parks() {
    let rt = runtime(1, false);
    common::eventually(30, "an idle loop parks", || {
        rt.metrics().loops[0].parks >= 1
    });
    rt.close();
}

#[test]
fn steals_are_counted_in_by_the_thief_and_out_for_the_victim() {
    within(60, "steals", || {
        let rt = runtime(2, false);
        let (home_tx, home) = mpsc::channel();
        let (ran_tx, ran) = mpsc::channel::<String>();
        let (release, released) = mpsc::channel::<()>();
        let blocker = rt.handle().spawn(async move {
            home_tx.send(loopwork::current_loop().id()).unwrap();
            for _ in 0..4 {
                let tx = ran_tx.clone();
                loopwork::spawn(async move {
                    tx.send(std::thread::current().name().unwrap().to_owned())
                        .unwrap();
                })
                .detach();
            }
            // Holds this loop: its queued tasks can only be stolen.
            released.recv_timeout(Duration::from_secs(60)).unwrap();
        });
        let home = home.recv_timeout(Duration::from_secs(30)).unwrap();
        for _ in 0..4 {
            ran.recv_timeout(Duration::from_secs(30)).unwrap();
        }
        let m = rt.metrics();
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        assert!(m.loops[home].stolen_out >= 4, "{m:?}");
        assert!(m.loops[1 - home].stolen >= 4, "{m:?}");
        assert_eq!(
            m.loops[1 - home].stolen_out,
            0,
            "nothing was stolen from the thief"
        );
        rt.close();
    });
}

#[test]
fn the_longest_poll_is_measured_in_debug_mode_only() {
    for debug in [true, false] {
        let rt = runtime(1, debug);
        rt.block_on(rt.handle().spawn(async {
            std::thread::sleep(Duration::from_millis(30));
        }))
        .unwrap();
        let longest = rt.metrics().loops[0].longest_poll;
        if debug {
            // A lower bound the sleep guarantees (less a clock rounding).
            assert!(longest >= Duration::from_millis(29), "{longest:?}");
        } else {
            assert_eq!(
                longest,
                Duration::ZERO,
                "production reads no clock per poll"
            );
        }
        rt.close();
    }
}

/// Sends once when its inner future returns `Pending`.
struct SignalPending<F> {
    inner: Pin<Box<F>>,
    tx: Option<mpsc::Sender<()>>,
}

impl<F: Future> Future for SignalPending<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_pending() {
            if let Some(tx) = self.tx.take() {
                tx.send(()).unwrap();
            }
        }
        out
    }
}

#[test]
fn an_idle_loop_steals_the_io_events_of_a_stalled_sibling() {
    use futures_io::AsyncRead;
    use std::io::Write;
    within(60, "event-steal", || {
        let rt = runtime(2, false);
        let (setup_tx, setup) = mpsc::channel();
        let (pending_tx, pending) = mpsc::channel();
        let (read_tx, read) = mpsc::channel::<String>();
        let (release, released) = mpsc::channel::<()>();
        let blocker = rt.handle().spawn(async move {
            let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            // Registered with this loop's poller.
            let mut mine = loopwork::net::UnixStream::from_std(mine).unwrap();
            loopwork::spawn(SignalPending {
                inner: Box::pin(async move {
                    let mut buf = [0u8; 1];
                    std::future::poll_fn(|cx| Pin::new(&mut mine).poll_read(cx, &mut buf))
                        .await
                        .unwrap();
                    read_tx
                        .send(std::thread::current().name().unwrap().to_owned())
                        .unwrap();
                }),
                tx: Some(pending_tx),
            })
            .detach();
            setup_tx
                .send((loopwork::current_loop().id(), theirs))
                .unwrap();
            // Holds this loop (busy, no progress): a stalled loop.
            released.recv_timeout(Duration::from_secs(60)).unwrap();
        });
        let (home, mut theirs) = setup.recv_timeout(Duration::from_secs(30)).unwrap();
        let other = 1 - home;
        // The reader was stolen by the other loop and waits on this loop's
        // poller; the other loop must look around to find its event: a
        // ticking task keeps it from sleeping without a timeout.
        pending.recv_timeout(Duration::from_secs(30)).unwrap();
        let (stop, stopped) = loopwork::handoff::promise::<()>();
        let mut ticker = rt
            .loop_handle(other)
            .spawn_local_threadsafe(move || async move {
                let stopped = std::pin::pin!(stopped);
                let mut stopped = stopped;
                loop {
                    let tick = loopwork::sleep(Duration::from_millis(1));
                    match futures_lite_select(stopped.as_mut(), tick).await {
                        true => break,
                        false => continue,
                    }
                }
            });
        let before = rt.metrics().loops[other].event_steals;
        theirs.write_all(b"x").unwrap();
        let reader_thread = read.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(
            reader_thread,
            rt.loop_handle(other).thread_name(),
            "the woken reader ran on the loop that took the event"
        );
        let after = rt.metrics().loops[other].event_steals;
        assert!(after > before, "event steals {before} -> {after}");
        stop.set_result(()).unwrap();
        ticker
            .result_timeout(Duration::from_secs(30))
            .expect("the ticker stopped")
            .expect("the ticker did not fail");
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        rt.close();
    });
}

/// `true` when `stopped` completed first, `false` when `tick` did.
async fn futures_lite_select<A, B>(mut stopped: Pin<&mut A>, tick: B) -> bool
where
    A: Future,
    B: Future,
{
    let mut tick = std::pin::pin!(tick);
    std::future::poll_fn(|cx| {
        if stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        if tick.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        Poll::Pending
    })
    .await
}

#[test]
fn wrong_thread_calls_are_counted_on_the_target_loop() {
    let rt = runtime(2, false);
    let (tx, rx) = mpsc::channel();
    rt.loop_handle(1).call_soon(move || tx.send(()).unwrap());
    rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let m = rt.metrics();
    assert_eq!(
        (m.loops[0].wrong_thread_calls, m.loops[1].wrong_thread_calls),
        (0, 1)
    );
    assert_eq!(m.wrong_thread_calls, 1);
    rt.close();
}

#[test]
fn tasks_alive_counts_pending_tasks_and_drops_when_they_complete() {
    let rt = runtime(2, false);
    assert_eq!(rt.metrics().tasks_alive, 0, "a fresh runtime has no tasks");
    let (started, started_rx) = mpsc::channel();
    let mut promises = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let started = started.clone();
        let (promise, fut) = loopwork::handoff::promise::<u32>();
        promises.push(promise);
        tasks.push(rt.handle().spawn(async move {
            started.send(()).unwrap();
            fut.await.unwrap()
        }));
    }
    for _ in 0..3 {
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    assert_eq!(rt.metrics().tasks_alive, 3, "three tasks wait on promises");
    for (i, p) in promises.into_iter().enumerate() {
        p.set_result(i as u32).unwrap();
    }
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    assert_eq!(rt.metrics().tasks_alive, 0, "every task has completed");
    rt.close();
}
