//! Shutdown: pending tasks are cancelled on their loop, joiners see
//! `Cancelled`, and nothing hangs.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

#[test]
fn shutdown_with_thousands_of_pending_tasks_cancels_them_all() {
    common::within(60, "shutdown-many", || {
        let rt = common::runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        const N: usize = 5_000;
        let mut tasks = Vec::new();
        for _ in 0..N {
            // Owned by the future from the start, so dropped even if never polled.
            let flag = common::DropFlag(drops.clone());
            tasks.push(rt.handle().spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await
            }));
        }
        // Some are waiting on timers, some were never polled.
        let flag = common::DropFlag(drops.clone());
        tasks.push(rt.handle().spawn(async move {
            let _flag = flag;
            loopwork::sleep(Duration::from_secs(3600)).await
        }));
        rt.shutdown_timeout(Duration::from_secs(30));
        assert_eq!(drops.load(SeqCst), N + 1, "every pending future is dropped");
        let mut cancelled = 0;
        for t in tasks {
            let err = futures::executor::block_on(t).unwrap_err();
            assert!(err.is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, N + 1);
    });
}

#[test]
fn pinned_tasks_are_dropped_on_their_own_loop_at_shutdown() {
    common::within(60, "shutdown-pinned", || {
        let rt = common::runtime(2);
        let dropped_on: Arc<Mutex<Vec<(ThreadId, ThreadId)>>> = Arc::new(Mutex::new(Vec::new()));
        struct Probe(Rc<ThreadId>, Arc<Mutex<Vec<(ThreadId, ThreadId)>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.1
                    .lock()
                    .unwrap()
                    .push((*self.0, std::thread::current().id()));
            }
        }
        let d = dropped_on.clone();
        rt.block_on(async move {
            let mut spawners = Vec::new();
            for _ in 0..8 {
                let d = d.clone();
                spawners.push(loopwork::spawn(async move {
                    for _ in 0..10 {
                        let d = d.clone();
                        loopwork::spawn_local(async move {
                            let _p = Probe(Rc::new(std::thread::current().id()), d);
                            std::future::pending::<()>().await
                        })
                        .detach();
                    }
                    loopwork::yield_now().await;
                }));
            }
            for s in spawners {
                s.await.unwrap();
            }
        });
        rt.close();
        let dropped = dropped_on.lock().unwrap();
        assert_eq!(dropped.len(), 80);
        assert!(
            dropped.iter().all(|(owner, at)| owner == at),
            "a pinned future was dropped off its loop"
        );
    });
}

#[test]
fn spawn_after_close_gives_a_cancelled_task_and_try_spawn_an_error() {
    let rt = common::runtime(1);
    let handle = rt.handle();
    rt.close();
    assert!(handle.is_closed());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let t = handle.spawn(async move {
        r.fetch_add(1, SeqCst);
    });
    assert!(futures::executor::block_on(t).unwrap_err().is_cancelled());
    assert_eq!(ran.load(SeqCst), 0);
    let err = handle.try_spawn(async {}).unwrap_err();
    assert_eq!(err.to_string(), "the loopwork runtime is closed");
}

#[test]
fn shutdown_timeout_returns_while_a_loop_is_stuck_in_a_blocking_poll() {
    common::within(60, "shutdown-stuck", || {
        let rt = common::runtime(2);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        rt.handle()
            .spawn(async move {
                started_tx.send(()).unwrap();
                // Blocks its loop until released after shutdown_timeout returned.
                let _ = release_rx.recv();
            })
            .detach();
        started_rx.recv().unwrap();
        rt.shutdown_timeout(Duration::from_millis(100));
        // We got here while the loop is still stuck: shutdown did not hang.
        release_tx.send(()).unwrap();
    });
}

#[test]
fn dropping_the_runtime_shuts_it_down() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let rt = common::runtime(1);
        let flag = common::DropFlag(drops.clone());
        rt.handle()
            .spawn(async move {
                let _f = flag;
                std::future::pending::<()>().await
            })
            .detach();
        rt.block_on(loopwork::yield_now());
    }
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn nested_block_on_on_a_loop_thread_panics_in_debug_mode() {
    let rt = loopwork::Runtime::builder()
        .loops(1)
        .debug(true)
        .build()
        .unwrap();
    let handle = rt.handle();
    let err = rt
        .block_on(async move { loopwork::spawn(async move { handle.block_on(async { 1 }) }).await })
        .unwrap_err();
    let msg = err.into_panic().unwrap().message().to_owned();
    assert!(msg.contains("Handle::block_on"), "{msg}");
    assert!(msg.contains("loop 0"), "{msg}");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("tests/shutdown.rs"), "{msg}");
    rt.close();
}
