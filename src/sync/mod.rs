//! The one switch between the real synchronization primitives and loom's.
//!
//! Every atomic, `Arc`, `Mutex`, `Condvar`, `UnsafeCell` and thread spawn in the
//! runtime comes from here, never from `std::sync` directly. Under
//! `--cfg loopwork_loom` the same names resolve to [loom]'s modelled types, so
//! the protocols written against this module are the ones loom explores.
//!
//! The std side mimics loom's API where the two differ: [`UnsafeCell`] is
//! accessed through `with` / `with_mut`, and the lock types never report
//! poisoning (a panic while holding one of our locks is a bug in loopwork, not
//! a state callers can recover from).
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(loopwork_loom))]
mod std_impl;
#[cfg(not(loopwork_loom))]
pub(crate) use std_impl::*;

#[cfg(test)]
#[cfg(not(loopwork_loom))]
pub(crate) mod test_waker;

#[cfg(loopwork_loom)]
mod loom_impl;
#[cfg(loopwork_loom)]
pub(crate) mod virtual_clock;
#[cfg(loopwork_loom)]
pub(crate) use loom_impl::*;

/// `thread_local!` through the switch: std's, const-initialised (no lazy
/// check on the hot path), in production; loom's under loom, where every
/// model thread must see its own value.
#[cfg(not(loopwork_loom))]
macro_rules! loop_thread_local {
    ($vis:vis static $name:ident: $t:ty = $init:expr;) => {
        std::thread_local! { $vis static $name: $t = const { $init }; }
    };
}
#[cfg(loopwork_loom)]
macro_rules! loop_thread_local {
    ($vis:vis static $name:ident: $t:ty = $init:expr;) => {
        loom::thread_local! { $vis static $name: $t = $init; }
    };
}
pub(crate) use loop_thread_local;

/// Items for the production build only: under `--cfg loopwork_loom` only
/// the protocols that loom models are built (tokio's `cfg_rt!` habit).
macro_rules! cfg_not_loom {
    ($($item:item)*) => { $( #[cfg(not(loopwork_loom))] $item )* };
}
/// Items for the loom build only (stand-ins and entry points of the models).
macro_rules! cfg_loom {
    ($($item:item)*) => { $( #[cfg(loopwork_loom)] $item )* };
}
pub(crate) use {cfg_loom, cfg_not_loom};
