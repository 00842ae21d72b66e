//! Model 3: a loop's inbox — `Slot::send` from two foreign threads while the
//! owner runs `LoopScheduler::run` (drains it and parks: `ParkFlag` +
//! `park_loop`).
//!
//! Each item must be handled exactly once; a lost notify leaves the owner
//! parked with an item in its inbox, which loom reports as a deadlock.
#![cfg(loopwork_loom)]

use loom::thread;
use loom_tests::{model, Rt};

#[test]
fn sends_from_two_threads_are_handled_exactly_once() {
    model(|| {
        let rt = Rt::new(1, 2, false);
        let senders: Vec<_> = (0..2)
            .map(|id| {
                let rt = rt.clone();
                thread::spawn(move || rt.send(0, id))
            })
            .collect();
        rt.run_loop(0);
        for s in senders {
            s.join().unwrap();
        }
        let mut handled = rt.handled();
        handled.sort_unstable();
        assert_eq!(handled, [0, 1], "an item was lost or handled twice");
    });
}
