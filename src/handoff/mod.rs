//! Crossing threads: what one thread hands to another, and values bound to
//! the loop that made them.
//!
//! * [`ConcurrentFuture`]: the result of `LoopHandle::run_coroutine_threadsafe`
//!   / `spawn_local_threadsafe` (asyncio's `concurrent.futures.Future`):
//!   block on it from a foreign thread, poll it with a timeout, cancel it,
//!   add done callbacks, or `.await` it from any task.
//! * [`promise`] → ([`Promise`], [`PromiseFuture`]): a one-shot value set from
//!   anywhere (asyncio's `Future`).
//! * [`Local<T>`]: a value bound to its loop, `Send + Sync`, readable only
//!   there; dropped elsewhere, it is sent home to be dropped.
//! * [`shield`]: keeps a task running when the future awaiting it is
//!   cancelled.

pub(crate) mod concurrent;
pub(crate) mod home;
mod local;
mod oneshot;
mod promise;
mod shield;
mod threadsafe;

pub use concurrent::ConcurrentFuture;
pub use local::{Local, WrongThread};
pub use promise::{promise, InvalidState, Promise, PromiseError, PromiseFuture};
pub use shield::{shield, Shield};
