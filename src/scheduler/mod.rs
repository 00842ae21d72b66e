//! Scheduling: where tasks wait to be polled, how a loop runs an iteration,
//! how idle loops find work, and how they park and are woken.
//!
//! ```text
//!  foreign thread ──spawn──▶ Injector (global) ──▶ any loop, in batches
//!  loop i ──spawn / wake──▶ Worker deque(i) ◀── steal half ── idle loop j
//!  loop i ──spawn_local──▶ pinned queue(i)          (owner only, never stolen)
//!  other thread ──wake pinned task of i──▶ inbox(i) ──▶ loop i
//! ```
//!
//! * [`shared`]: what every thread may touch (`Scheduler`: the injector, the
//!   idle protocol, the shutdown gate; per loop a `Slot`: stealer, inbox,
//!   park flag, hints, counters, and the `Driver` that wakes it);
//! * [`worker`]: one loop's `LoopScheduler`, touched only by its thread:
//!   the iteration (`run_once`), the search, event stealing, spinning,
//!   parking, the task hooks and the registry of pending tasks;
//! * [`schedulers`]: the `Schedule` hooks a task carries (stealable, pinned);
//! * [`idle`], [`park`], [`gate`]: the three wakeup and shutdown protocols,
//!   each with its invariants; [`queue`]: the run queues.
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
//!
//! The scheduler knows the poller only through the [`Driver`] trait and the
//! runtime's part of an iteration (timers, callbacks, the wait) only through
//! [`LoopHooks`], so the loom models run this module's code unchanged with a
//! modelled parker in place of the poller.

pub(crate) mod gate;
pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod schedulers;
pub(crate) mod shared;
pub(crate) mod spin;
pub(crate) mod worker;

pub(crate) use schedulers::{PinnedScheduler, StealableScheduler};
pub(crate) use shared::{Counters, Driver, InboxItem, Scheduler, Slot, Tuning};
pub(crate) use worker::{LoopHooks, LoopScheduler};
