//! Model 8: a `Local<T>` dropped on a foreign thread while its runtime shuts
//! down — the real send-home decision (`handoff::home::send_home`: the real
//! `Gate`, the owner loop's `closed` flag, the real `Homebound` wrapper,
//! an `InboxItem::Call` sent with `Slot::send`), the owner loop running the
//! real `LoopScheduler::run` (inbox calls until the gate closes, the wait
//! for the gate's submitters, the shutdown passes; then `closed`, as
//! `LoopCore::run` sets it), and the closer (`Runtime::shutdown`:
//! `Scheduler::close`, wait for the loop, then `Slot::drain_inbox` drops
//! what is left in a closed loop's inbox).
//!
//! `Local<T>` itself needs the whole runtime (thread context, `Shared`), so
//! `Local::drop` was split: its foreign-thread branch is exactly a call to
//! `send_home`, which this model drives (`Rt::send_home`).
//!
//! Proves: the value is dropped at most once and **only on the owner
//! thread**, whatever the interleaving (a value that cannot be delivered is
//! leaked, never dropped elsewhere); and a value refused by the gate is never
//! dropped at all.
//!
//! And a value *sent* home is dropped (on the owner): the owner's loop waits
//! for the gate's submitters (`Gate::wait_drained`, in `LoopScheduler::run`)
//! before its final pass. Without that wait (mutant `loop_exit_no_drain`) a
//! `send_home` that entered before CLOSED could push its call after the
//! owner's final pass, and the value would leak; this model found that.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread::{self, ThreadId};
use loom_tests::{model, Rt};

/// The value inside the `Local`: asserts where it is dropped. Holds only a
/// std `Arc` (not loom's), because a value leaked on purpose must not trip
/// loom's leak check.
struct Probe {
    owner: ThreadId,
    drops: std::sync::Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        assert_eq!(
            thread::current().id(),
            self.owner,
            "a Local's value was dropped off its owner thread"
        );
        self.drops.fetch_add(1, SeqCst);
    }
}

/// One shutdown race: the owner loop, a foreign thread dropping a `Local`,
/// and the closer. Returns whether the value was sent and how many times it
/// was dropped (every drop asserted to be on the owner thread).
fn foreign_drop_racing_shutdown() -> (bool, usize) {
    let rt = Rt::new(1, usize::MAX, false);
    let r = rt.clone();
    let lp = thread::spawn(move || r.run_loop(0));
    let owner_id = lp.thread().id();

    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        owner: owner_id,
        drops: drops.clone(),
    };
    let r = rt.clone();
    // `Local::drop` off the owner thread.
    let foreign = thread::spawn(move || r.send_home(0, probe));

    // `Runtime::shutdown` on this (non-owner) thread.
    rt.close();
    lp.join().unwrap();
    let sent = foreign.join().unwrap();
    // What reached a closed loop's inbox after its last pass is dropped
    // here, unrun: `Homebound` must leak it, not drop it on this thread.
    assert!(rt.is_loop_closed(0));
    rt.drop_leftovers(0);

    (sent, drops.load(SeqCst))
}

#[test]
fn a_foreign_drop_never_drops_off_the_owner() {
    model(|| {
        let (sent, drops) = foreign_drop_racing_shutdown();
        assert!(drops <= 1, "the value was dropped {drops} times");
        if !sent {
            assert_eq!(drops, 0, "a refused value must be leaked, not dropped");
        }
    });
}

#[test]
fn a_value_sent_home_is_dropped_on_the_owner() {
    model(|| {
        let (sent, drops) = foreign_drop_racing_shutdown();
        assert_eq!(drops, usize::from(sent), "a value sent home was leaked");
    });
}
