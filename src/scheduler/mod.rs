//! Scheduling: where tasks wait to be polled and how idle loops find work.
//!
//! ```text
//!  foreign thread ──spawn──▶ Injector (global) ──▶ any loop, in batches
//!  loop i ──spawn / wake──▶ Worker deque(i) ◀── steal half ── idle loop j
//!  loop i ──spawn_local──▶ pinned queue(i)          (owner only, never stolen)
//!  other thread ──wake pinned task of i──▶ inbox(i) ──▶ loop i
//! ```
//!
//! Ownership: a loop's `Worker` deque and pinned queue are touched only by
//! that loop's thread (siblings reach the deque only through its `Stealer`).
//! The injector and the inboxes are multi-producer queues anyone may push to.
//!
//! Waking: a stealable task woken on a loop thread of its runtime goes to that
//! loop's deque; woken anywhere else it goes to the injector, then one parked
//! loop is woken through the [idle protocol](idle). A pinned task woken by
//! its owner goes to the owner's pinned queue; woken anywhere else, to the
//! owner's inbox, and the owner's poller is notified if it is parked.

pub(crate) mod gate;
pub(crate) mod idle;
pub(crate) mod queue;

#[cfg(not(loopwork_loom))]
mod schedulers;
#[cfg(not(loopwork_loom))]
pub(crate) use schedulers::{PinnedScheduler, StealableScheduler};
