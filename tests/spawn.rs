//! Spawning: every task runs exactly once, from inside and from foreign threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

const N: usize = 100_000;

#[test]
fn spawn_100k_from_inside_runs_each_exactly_once() {
    common::within(120, "spawn-inside", || {
        let rt = common::runtime(2);
        let hits: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
        let h = hits.clone();
        rt.block_on(async move {
            loopwork::spawn(async move {
                let tasks: Vec<_> = (0..N)
                    .map(|i| {
                        let h = h.clone();
                        loopwork::spawn(async move {
                            h[i].fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
            .await
            .unwrap();
        });
        assert!(
            hits.iter().all(|c| c.load(SeqCst) == 1),
            "a task ran zero or two times"
        );
        rt.close();
    });
}

#[test]
fn spawn_100k_from_4_foreign_threads_runs_each_exactly_once() {
    common::within(120, "spawn-foreign", || {
        let rt = common::runtime(2);
        let hits: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let handle = rt.handle();
                let hits = hits.clone();
                std::thread::spawn(move || {
                    let tasks: Vec<_> = (p * N / 4..(p + 1) * N / 4)
                        .map(|i| {
                            let hits = hits.clone();
                            handle.spawn(async move {
                                hits[i].fetch_add(1, SeqCst);
                            })
                        })
                        .collect();
                    handle.block_on(async {
                        for t in tasks {
                            t.await.unwrap();
                        }
                    });
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        assert!(
            hits.iter().all(|c| c.load(SeqCst) == 1),
            "a task ran zero or two times"
        );
        rt.close();
    });
}

#[test]
fn nested_spawns_complete_and_return_values() {
    common::within(60, "nested", || {
        let rt = common::runtime(2);
        // A tree of depth 10: each task spawns two children and sums them.
        fn tree(depth: u32) -> loopwork::Task<u64> {
            loopwork::spawn(async move {
                if depth == 0 {
                    return 1;
                }
                let (a, b) = (tree(depth - 1), tree(depth - 1));
                a.await.unwrap() + b.await.unwrap()
            })
        }
        let leaves = rt.block_on(async { tree(10).await.unwrap() });
        assert_eq!(leaves, 1024);
        rt.close();
    });
}

#[test]
fn spawn_outside_a_runtime_panics_with_the_fix() {
    let err = std::panic::catch_unwind(|| {
        loopwork::spawn(async {});
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("outside a loopwork runtime"), "{msg}");
    assert!(msg.contains("Handle::spawn"), "{msg}");
}

#[test]
fn task_names_and_ids_are_reported() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let a = loopwork::task::Builder::new()
            .name("alpha")
            .spawn(async { 1 });
        let b = loopwork::spawn(async { 2 });
        assert_eq!(a.name(), Some("alpha"));
        assert_eq!(b.name(), None);
        assert_ne!(a.id(), b.id());
        assert!(format!("{a:?}").contains("'alpha'"));
        assert!(format!("{a:?}").contains("tests/spawn.rs"), "{a:?}");
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
    });
    rt.close();
}

#[test]
fn detached_task_keeps_running() {
    let rt = common::runtime(1);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move {
        let t = loopwork::spawn(async move {
            loopwork::yield_now().await;
            tx.send(7).unwrap();
        });
        t.detach();
    });
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap(),
        7
    );
    rt.close();
}
