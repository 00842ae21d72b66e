//! Model 8: a `Local<T>` dropped on a foreign thread while its runtime shuts
//! down — the real send-home decision (`local::home::send_home`: the real
//! `Gate`, the owner's `closed` flag, the real `Homebound` wrapper) with the
//! real inbox queue, a model owner loop (`LoopCore::run` then
//! `LoopCore::shutdown`: run inbox calls until the gate closes, drain until
//! empty, set `closed`) and the closer (`Runtime::shutdown`: close the gate,
//! wait for the loop, then drop what is left in closed loops' inboxes).
//!
//! `Local<T>` itself needs the whole runtime (thread context, `Shared`), so
//! `Local::drop` was split: its foreign-thread branch is exactly a call to
//! `send_home`, which this model drives.
//!
//! Proves: the value is dropped at most once and **only on the owner
//! thread**, whatever the interleaving (a value that cannot be delivered is
//! leaked, never dropped elsewhere); and a value refused by the gate is never
//! dropped at all.
//!
//! And a value *sent* home is dropped (on the owner): the owner's loop waits
//! for the gate's submitters (`Gate::wait_drained`, as `LoopCore::run` does)
//! before its final pass. Without that wait (mutant `loop_exit_no_drain`) a
//! `send_home` that entered before CLOSED could push its call after the
//! owner's final pass, and the value would leak; this model found that.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread::{self, ThreadId};
use loom_tests::model;
use loopwork::__loom::{send_home, Gate, Injector, Steal};

/// What the owner's inbox carries here: `InboxItem::Call`.
type Call = Box<dyn FnOnce() + Send>;

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

struct Owner {
    gate: Gate,
    inbox: Injector<Call>,
    closed: AtomicBool,
}

impl Owner {
    /// `LoopCore::run` (inbox calls only) then `LoopCore::shutdown`.
    fn run(&self) {
        while !self.gate.is_closed() {
            while let Steal::Success(call) = self.inbox.steal() {
                call();
            }
            thread::yield_now();
        }
        // As `LoopCore::run`: let submitters inside the gate finish first.
        self.gate.wait_drained();
        // The final pass: inbox calls run even during shutdown.
        loop {
            let mut did = false;
            while let Steal::Success(call) = self.inbox.steal() {
                did = true;
                call();
            }
            if !did {
                break;
            }
        }
        self.closed.store(true, SeqCst);
    }
}

/// One shutdown race: the owner loop, a foreign thread dropping a `Local`,
/// and the closer. Returns whether the value was sent and how many times it
/// was dropped (every drop asserted to be on the owner thread).
fn foreign_drop_racing_shutdown() -> (bool, usize) {
    {
        let owner = Arc::new(Owner {
            gate: Gate::new(),
            inbox: Injector::new(),
            closed: AtomicBool::new(false),
        });
        let o = owner.clone();
        let lp = thread::spawn(move || o.run());
        let owner_id = lp.thread().id();

        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let probe = Probe {
            owner: owner_id,
            drops: drops.clone(),
        };
        let o = owner.clone();
        let foreign = thread::spawn(move || {
            // `Local::drop` off the owner thread.
            send_home(probe, &o.gate, &o.closed, |call| o.inbox.push(call))
        });

        // `Runtime::shutdown` on this (non-owner) thread.
        owner.gate.close();
        lp.join().unwrap();
        let sent = foreign.join().unwrap();
        // What reached a closed loop's inbox after its last pass is dropped
        // here, unrun: `Homebound` must leak it, not drop it on this thread.
        assert!(owner.closed.load(SeqCst));
        while let Steal::Success(call) = owner.inbox.steal() {
            drop(call);
        }

        (sent, drops.load(SeqCst))
    }
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
