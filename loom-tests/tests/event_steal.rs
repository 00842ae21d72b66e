//! Model 10: I/O event stealing — a searching loop's zero-timeout wait on a
//! sibling's poller (the real `poll_sibling`; the harness `Parker` models the
//! poller's wait lock and its notification, which whoever waits clears)
//! racing the sibling parking (the real `park_loop`) and producers notifying
//! it (`LoopShared::send`, `Shared::push_remote`).
//!
//! A stolen notification that is not given back leaves the sibling asleep
//! with its work queued: every model thread blocks, which loom reports as a
//! deadlock (the model runtime shuts its loops down only once all its work is
//! done).
#![cfg(loopwork_loom)]

use loom::sync::Arc;
use loom::thread;
use loom_tests::{model, run_loops, spawn_remote, Behaviour, Rt};

/// Two loops with event stealing (a zero stall threshold: a searching loop
/// steals from every sibling, wherever the runtime's filters might let it),
/// expecting `work` units of work, and `producer` on a foreign thread: runs
/// both loops until the model runtime shuts down (all work done); returns
/// the model runtime and what the producer returned.
fn with_two_stealing_loops<T: Send + 'static>(
    work: usize,
    producer: impl FnOnce(&Arc<Rt>) -> T + Send + 'static,
) -> (Arc<Rt>, T) {
    let rt = Rt::new(2, work, true);
    let producer = {
        let rt = rt.clone();
        thread::spawn(move || producer(&rt))
    };
    run_loops(&rt, 2);
    let out = producer.join().unwrap();
    (rt, out)
}

/// Two loops with event stealing and a foreign thread sending one item to
/// loop 1's inbox. Loop 0, searching, passes the pre-check on loop 1's flag
/// while loop 1 is still running; loop 1 raises its flag, re-checks (empty)
/// and is about to wait; the sender sees the flag and notifies; loop 0's
/// wait on loop 1's poller consumes that notify. Its post-check sees the
/// flag up and notifies loop 1 again, which wakes and handles the item.
#[test]
fn a_send_racing_an_event_steal_is_not_lost() {
    model(|| {
        let (rt, ()) = with_two_stealing_loops(1, |rt| rt.send(1, 7));
        assert_eq!(rt.handled(), [7], "the item was lost or handled twice");
        assert_eq!(rt.num_searching(), 0, "the searching count leaked");
    });
}

/// As above, with an item sent to each loop (loop 1's first): each loop is
/// both a stealer and a victim, so either loop's notify can be consumed by
/// the other's steal. Each item is handled exactly once.
#[test]
fn sends_to_both_loops_racing_mutual_event_steals_are_not_lost() {
    model(|| {
        let (rt, ()) = with_two_stealing_loops(2, |rt| {
            rt.send(1, 1);
            rt.send(0, 0);
        });
        let mut handled = rt.handled();
        handled.sort_unstable();
        assert_eq!(handled, [0, 1], "an item was lost or handled twice");
    });
}

/// Event stealing with both kinds of producer: a foreign thread spawns a
/// task (the injector and the idle protocol's notify of a parked loop), then
/// sends an item to loop 1's inbox. The task is polled exactly once and the
/// item handled exactly once.
///
/// (With two loops an idle-protocol notify is never consumed to harm:
/// `notify_one` wakes nobody while a loop searches, and only searchers
/// steal events; a searcher that starts after the notify finds the task in
/// the injector before it steals.)
#[test]
fn a_remote_spawn_and_a_send_racing_event_steals_are_not_lost() {
    model(|| {
        let (rt, (task, counters)) = with_two_stealing_loops(2, |rt| {
            let spawned = spawn_remote(rt, Behaviour::Ready);
            rt.send(1, 1);
            spawned
        });
        assert_eq!(counters.polls(), 1, "the task was polled twice or never");
        assert!(task.is_finished());
        assert_eq!(rt.handled(), [1], "the item was lost or handled twice");
        assert_eq!(rt.num_searching(), 0, "the searching count leaked");
    });
}
