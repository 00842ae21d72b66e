//! Work stealing is real: a blocked loop's queued tasks run elsewhere.

mod common;

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn tasks_queued_on_a_blocked_loop_complete_on_the_other_loop() {
    common::within(60, "stealing", || {
        let rt = common::runtime(2);
        const N: usize = 64;
        let (done_tx, done_rx) = mpsc::channel::<String>();
        let blocker =
            rt.handle().spawn(async move {
                let blocked_thread = std::thread::current().name().unwrap().to_owned();
                // Queue N Send tasks on this loop's own deque...
                for _ in 0..N {
                    let tx = done_tx.clone();
                    loopwork::spawn(async move {
                        tx.send(std::thread::current().name().unwrap().to_owned())
                            .unwrap();
                    })
                    .detach();
                }
                // ...then block this loop synchronously until they have all run.
                // Only another loop can run them now.
                let mut ran_on = Vec::new();
                for _ in 0..N {
                    ran_on.push(done_rx.recv_timeout(Duration::from_secs(30)).expect(
                        "queued tasks did not run while their loop was blocked: no stealing",
                    ));
                }
                (blocked_thread, ran_on)
            });
        let (blocked_thread, ran_on) = rt.block_on(blocker).unwrap();
        assert_eq!(ran_on.len(), N);
        assert!(
            ran_on.iter().all(|t| *t != blocked_thread),
            "a task ran on the blocked loop {blocked_thread}"
        );
        let stolen: u64 = rt.metrics().loops.iter().map(|l| l.stolen).sum();
        assert!(
            stolen >= N as u64,
            "metrics report {stolen} stolen tasks, expected >= {N}"
        );
        rt.close();
    });
}

#[test]
fn loop_threads_are_named_prefix_loop_index() {
    let rt = loopwork::Runtime::builder()
        .loops(2)
        .thread_name("lw")
        .build()
        .unwrap();
    let names = rt.block_on(async {
        let mut names = Vec::new();
        for _ in 0..50 {
            let t = loopwork::spawn(async { std::thread::current().name().unwrap().to_owned() });
            names.push(t.await.unwrap());
        }
        names
    });
    for n in &names {
        assert!(
            n == "lw-loop-0" || n == "lw-loop-1",
            "unexpected loop thread name {n}"
        );
    }
    assert_eq!(rt.loop_handle(0).thread_name(), "lw-loop-0");
    assert_eq!(rt.loop_handle(1).thread_name(), "lw-loop-1");
    rt.close();
}
