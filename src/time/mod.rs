//! Timers: [`sleep`], [`sleep_until`] and [`wait_for`].
//!
//! A [`Sleep`] arms an entry in the timer store of the loop that first polls
//! it (see `runtime::timers` for the store and its cross-thread rules);
//! dropping it cancels the entry. [`wait_for`] races a future against a
//! `Sleep` and drops (cancels) the future when the time is up, returning
//! [`Elapsed`].

mod elapsed;

pub use elapsed::Elapsed;

mod sleep;

pub use sleep::{sleep, sleep_until, wait_for, Sleep, WaitFor};
