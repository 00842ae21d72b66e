//! The reactor: each loop's `polling::Poller`, the I/O sources registered
//! with it, and their readiness.
//!
//! A loop parks in a wait on its poller (timeout = next timer deadline) and
//! is woken by a notify, which is deduplicated (a second notify before the
//! wait returns costs nothing); on Linux both are a thin epoll path beside
//! `polling` (`wait`), elsewhere `Poller::wait` and `Poller::notify`. When to
//! park and when to notify is the
//! scheduler's business (`scheduler::park`), which reaches the poller through
//! the `scheduler::Driver` trait implemented here.
//!
//! I/O sources (`Async<T>` and the socket types built on it) register with
//! the poller of one loop; `io` keeps their wakers and `readiness` their
//! cached readiness.

/// Built under loom too: the readiness state machine of `io`, without the poller.
pub(crate) mod readiness;

pub(crate) mod io;

crate::sync::cfg_not_loom! {
    mod driver;
    mod wait;

    pub(crate) use driver::Driver;
    pub(crate) use wait::Events;
}

crate::sync::cfg_loom! {
    /// The poller's stand-in under loom (the protocol models).
    pub(crate) mod parker;
    /// A runtime's reactor under the feature `loom` (virtual clock, no I/O).
    mod loom_driver;

    pub(crate) use loom_driver::{loom_io_error, Driver, Events};
}
