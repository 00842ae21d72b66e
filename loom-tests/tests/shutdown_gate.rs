//! Model 7: shutdown — remote spawns racing `Gate::close()` and the final
//! drain, as `spawn_stealable` and `Runtime::shutdown` do it.
//!
//! Every submission is either refused (its task cancelled at once) or
//! accepted and reached by the drain after `close()` returns (and cancelled
//! there): every join handle reports `Cancelled`, none is left pending.
#![cfg(loopwork_loom)]

use loom::thread;
use loom_tests::{model, poll_join, spawn_test, Behaviour, CountingWaker, QueueScheduler};
use loopwork::__loom::{Gate, Injector, Steal};
use std::task::Poll;

#[test]
fn submissions_racing_close_are_never_lost() {
    model(|| {
        let gate = loom::sync::Arc::new(Gate::new());
        let injector = loom::sync::Arc::new(Injector::new());
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let (gate, injector) = (gate.clone(), injector.clone());
                thread::spawn(move || {
                    let sched = QueueScheduler::new();
                    let (notified, task, counters) = spawn_test(Behaviour::Ready, &sched);
                    // `spawn_stealable`'s remote path.
                    match gate.enter() {
                        Some(_pass) => injector.push(notified),
                        None => notified.shutdown(),
                    }
                    (task, counters)
                })
            })
            .collect();

        // `Runtime::shutdown`: close, then drain what was accepted. The
        // first close reports that it closed the gate, a second one that it
        // was closed already (the only closer is `Runtime::shutdown`, so the
        // answer is checked on both sides, not raced).
        assert!(gate.close(), "the first close() closes the gate");
        assert!(!gate.close(), "a second close() finds the gate closed");
        while let Steal::Success(t) = injector.steal() {
            t.shutdown();
        }

        for s in submitters {
            let (mut task, counters) = s.join().unwrap();
            let (_, waker) = CountingWaker::new();
            match poll_join(&mut task, &waker) {
                Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
                Poll::Ready(Ok(_)) => panic!("nothing runs tasks in this model"),
                Poll::Pending => panic!("a task was accepted after the final drain and lost"),
            }
            assert_eq!(counters.polls(), 0);
            assert_eq!(counters.future_drops(), 1);
        }
    });
}
