//! Model 7: shutdown — remote spawns (`Scheduler::spawn` from a foreign
//! thread: through the gate onto the injector) racing `Scheduler::close()`
//! and the final drain (`Scheduler::pop_injector`), as `Runtime::shutdown`
//! does it, with no loop running.
//!
//! Every submission is either refused (its task cancelled at once) or
//! accepted and reached by the drain after `close()` returns (and cancelled
//! there): every join handle reports `Cancelled`, none is left pending.
#![cfg(loopwork_loom)]

use loom::thread;
use loom_tests::{model, poll_join, spawn_remote, Behaviour, CountingWaker, Rt};
use std::task::Poll;

#[test]
fn submissions_racing_close_are_never_lost() {
    model(|| {
        let rt = Rt::new(1, 2, false);
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let rt = rt.clone();
                thread::spawn(move || spawn_remote(&rt, Behaviour::Ready))
            })
            .collect();

        // `Runtime::shutdown`: close, then drain what was accepted. The
        // first close reports that it closed the gate, a second one that it
        // was closed already (the only closer is `Runtime::shutdown`, so the
        // answer is checked on both sides, not raced).
        assert!(rt.close(), "the first close() closes the gate");
        assert!(!rt.close(), "a second close() finds the gate closed");
        while let Some(t) = rt.pop_injector() {
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
