//! The runtime: loops, handles, `block_on`, spawning and shutdown.
//!
//! # Shutdown protocol
//! 1. `close()` / `shutdown_timeout(d)` / `Drop` closes the gate: from then
//!    on remote submissions report `Closed` (`Handle::try_spawn`) or give a
//!    task that is already `Cancelled` (`spawn`); the closer waits until no
//!    submitter is inside the gate, so every accepted item is in a queue.
//! 2. Every loop's poller is notified. Each loop, on its own thread, drains
//!    its inbox, pinned queue, deque and (helping the others) the injector,
//!    then cancels every task in its registry, dropping pending futures on
//!    the loop that owns them; joiners get [`TaskError::Cancelled`]. It
//!    repeats until a pass finds nothing (drops may wake or spawn), then
//!    counts itself finished.
//! 3. The closer waits for all loops to finish (at most `d`), joins their
//!    threads, and drops what is left in the queues. A loop stuck in a
//!    blocking call past `d` is left detached and reported at warn.
//!
//! [`TaskError::Cancelled`]: crate::TaskError::Cancelled

pub(crate) mod blocking;
pub(crate) mod callbacks;

mod affinity;
pub(crate) mod background;
mod block_on_waker;
mod builder;
pub(crate) mod context;
mod dump_signal;
pub(crate) mod event_loop;
mod fd_watch;
mod handle;
mod introspect;
mod lifecycle;
mod loop_handle;
mod metrics;
pub(crate) mod shared;
mod spawn;
pub(crate) mod timers;
pub(crate) mod watchdog;

pub use builder::Builder;
pub use callbacks::{CallbackHandle, LocalCallbackHandle};
pub(crate) use handle::check_blocking_wait;
pub use handle::Handle;
pub use introspect::{all_tasks, print_call_graph, Awaiter, TaskTree};
pub use lifecycle::{run, run_with, Closed, Runtime};
pub use loop_handle::{call_soon_local, current_loop, try_current_loop, LoopHandle};
pub use metrics::{LoopMetrics, RuntimeMetrics};
pub(crate) use spawn::{not_in_runtime, spawn_local_inner, spawn_stealable};
pub use spawn::{spawn, spawn_local};
