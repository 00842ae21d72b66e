//! Fairness: yields go to the back of the queue; a yielding loop starves nobody.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

#[test]
fn a_yielding_task_goes_to_the_back_of_the_queue() {
    let rt = common::runtime(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    rt.block_on(async move {
        loopwork::spawn(async move {
            let push = |l: &Arc<Mutex<Vec<&'static str>>>, s| l.lock().unwrap().push(s);
            let (l1, l2, l3) = (l.clone(), l.clone(), l.clone());
            let a = loopwork::spawn(async move {
                push(&l1, "a1");
                loopwork::yield_now().await;
                push(&l1, "a2");
            });
            let b = loopwork::spawn(async move { push(&l2, "b") });
            let c = loopwork::spawn(async move { push(&l3, "c") });
            a.await.unwrap();
            b.await.unwrap();
            c.await.unwrap();
        })
        .await
        .unwrap();
    });
    assert_eq!(*log.lock().unwrap(), ["a1", "b", "c", "a2"]);
    rt.close();
}

#[test]
fn a_task_yielding_forever_does_not_starve_others() {
    common::within(60, "starve", || {
        let rt = common::runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        rt.block_on(async move {
            let spinner = loopwork::spawn(async move {
                let mut n = 0u64;
                while !s.load(SeqCst) {
                    loopwork::yield_now().await;
                    n += 1;
                }
                n
            });
            // These must all run although the spinner is always ready.
            for i in 0..100 {
                assert_eq!(loopwork::spawn(async move { i }).await.unwrap(), i);
            }
            // A pinned task and a timer must get their turn too.
            let pinned =
                loopwork::spawn(async { loopwork::spawn_local(async { 5 }).await.unwrap() });
            assert_eq!(pinned.await.unwrap(), 5);
            loopwork::sleep(std::time::Duration::from_millis(5)).await;
            stop.store(true, SeqCst);
            assert!(spinner.await.unwrap() > 0);
        });
        rt.close();
    });
}

#[test]
fn remote_spawns_are_not_starved_by_busy_local_work() {
    common::within(60, "injector", || {
        let rt = common::runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // Keep the only loop busy with local, self-respawning work.
        let busy = rt.handle().spawn(async move {
            while !s.load(SeqCst) {
                loopwork::spawn(async {}).await.unwrap();
            }
        });
        // From a foreign thread: these go through the injector.
        let handle = rt.handle();
        let value =
            std::thread::spawn(move || handle.block_on(handle.spawn(async { 42 })).unwrap())
                .join()
                .unwrap();
        assert_eq!(value, 42);
        stop.store(true, SeqCst);
        rt.block_on(busy).unwrap();
        rt.close();
    });
}
