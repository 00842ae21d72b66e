//! loopwork: an async runtime of per-thread event loops.
//!
//! Each loop is one OS thread owning a reactor (`polling::Poller`), a run
//! queue and a timer store. `Send` tasks are work-stolen between loops;
//! `!Send` tasks stay pinned to the loop that made them. Any thread — a loop
//! or a foreign thread — can hand work to the runtime.
//!
//! ```
//! use std::time::Duration;
//!
//! let total = loopwork::run(async {
//!     // Send tasks: any loop may run them.
//!     let tasks: Vec<_> = (1..=4)
//!         .map(|i| loopwork::spawn(async move {
//!             loopwork::sleep(Duration::from_millis(i)).await;
//!             i
//!         }))
//!         .collect();
//!     let mut total = 0;
//!     for t in tasks {
//!         total += t.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 10);
//! ```
//!
//! # Debug mode
//!
//! `LOOPWORK_DEBUG=1` (or [`Builder::debug`]) turns on asyncio-style
//! diagnostics, logged through the `log` crate with target `"loopwork"`
//! (`RUST_LOG=loopwork=debug` with `env_logger`).
//!
//! # Module map
//!
//! `task` (raw task, state word, join handle), `scheduler` (deques, injector,
//! idle protocol, shutdown gate), `runtime` (loops, handles, context),
//! `reactor` (poller, park flag), `time` (timer store, `sleep`, `wait_for`),
//! `sync` (the std/loom switch); `signal` (Unix signals as futures),
//! `process` (subprocesses); `guide` (how the pieces fit, by task).
//!
//! # Features
//!
//! - `macros` (on by default): the attributes `#[loopwork::main]` and
//!   `#[loopwork::test]`, which run an `async fn main` or an `async fn`
//!   test on a fresh runtime.
//! - `hyper` (off by default): `loopwork::hyper`, hyper 1.x's runtime
//!   traits (executor, I/O, timer) for loopwork.

#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Under loom only the protocol modules are built; what only the runtime uses is unused.
#![cfg_attr(loopwork_loom, allow(dead_code, unused_imports))]

pub(crate) mod sync;

#[cfg(loopwork_loom)]
#[doc(hidden)]
#[path = "loom_api.rs"]
pub mod __loom;
pub(crate) mod blocking;
mod debug;
#[cfg_attr(loopwork_loom, allow(dead_code, unused_imports))]
pub(crate) mod scheduler;
pub mod task;

#[cfg(not(loopwork_loom))]
pub(crate) mod reactor;
#[cfg(loopwork_loom)]
#[allow(dead_code, unused_imports)]
pub(crate) mod reactor;

mod concurrent;
pub mod guide;
#[cfg(not(loopwork_loom))]
mod local;
#[cfg(not(loopwork_loom))]
pub mod net;
/// Under loom: only the foreign-drop decision of `Local<T>` (`local/home.rs`).
#[cfg(loopwork_loom)]
mod local {
    pub(crate) mod home;
}
#[cfg(all(feature = "macros", not(loopwork_loom)))]
#[doc(hidden)]
#[path = "macros.rs"]
pub mod __private;
#[cfg(all(feature = "hyper", not(loopwork_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(not(loopwork_loom))]
pub mod process;
#[cfg(not(loopwork_loom))]
mod promise;
#[cfg(not(loopwork_loom))]
mod runtime;
/// Under loom: only the callbacks' cancel-versus-start state (`runtime/callbacks.rs`).
#[cfg(loopwork_loom)]
mod runtime {
    pub(crate) mod callbacks;
}
#[cfg(not(loopwork_loom))]
mod shield;
#[cfg(not(loopwork_loom))]
pub mod signal;
#[cfg(not(loopwork_loom))]
mod time;
#[cfg(not(loopwork_loom))]
mod yield_now;

#[cfg(not(loopwork_loom))]
pub use blocking::spawn_blocking;
pub use blocking::{BlockingStats, Executor};
#[cfg(not(loopwork_loom))]
pub use concurrent::ConcurrentFuture;
#[cfg(not(loopwork_loom))]
pub use local::{Local, WrongThread};
#[cfg(not(loopwork_loom))]
pub use net::Async;
#[cfg(not(loopwork_loom))]
pub use promise::{promise, InvalidState, Promise, PromiseError, PromiseFuture};
#[cfg(not(loopwork_loom))]
pub use runtime::{
    call_soon, current_loop, run, try_current_loop, Builder, CallbackHandle, Closed, Handle,
    LocalCallbackHandle, LoopHandle, LoopStats, Runtime, RuntimeMetrics,
};
#[cfg(not(loopwork_loom))]
pub use shield::{shield, Shield};
#[cfg(not(loopwork_loom))]
pub use task::{spawn, spawn_local};
pub use task::{Panic, Task, TaskError, TaskId};
#[cfg(not(loopwork_loom))]
pub use time::{sleep, sleep_until, wait_for, Elapsed, Sleep, WaitFor};
#[cfg(not(loopwork_loom))]
pub use yield_now::{yield_now, YieldNow};

/// Runs `async fn main` on a fresh runtime (feature `macros`, on by default).
///
/// The body runs as the future of [`Runtime::block_on`] on the main thread,
/// with the runtime's loops on their own threads; when it returns, the
/// runtime is closed (pending tasks are cancelled), as [`run`] does. Its
/// return value is `main`'s, so `-> Result<(), E>` works as usual.
///
/// Options, mapped onto [`Runtime::builder`]:
/// - `loops = N`: [`Builder::loops`] (default: one loop per CPU);
/// - `debug = true|false`: [`Builder::debug`] (default: the `LOOPWORK_DEBUG`
///   environment variable).
///
/// An attribute on anything but an `async fn` without arguments or generic
/// parameters, an unknown option or a bad value is a compile error pointing
/// at the offending tokens. The expansion names the crate `::loopwork`, so
/// depend on it under that name (not renamed in `Cargo.toml`).
///
/// # Examples
///
/// ```
/// #[loopwork::main]
/// async fn main() {
///     let answer = loopwork::spawn(async { 6 * 7 }).await.unwrap();
///     assert_eq!(answer, 42);
/// }
/// ```
///
/// Options and a `Result` return:
///
/// ```
/// use std::error::Error;
///
/// #[loopwork::main(loops = 2, debug = true)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let listener = loopwork::net::TcpListener::bind("127.0.0.1:0")?;
///     println!("bound {}", listener.local_addr()?);
///     Ok(())
/// }
/// ```
///
/// A function that is not `async` does not compile:
///
/// ```compile_fail
/// #[loopwork::main]
/// fn main() {} // error: the `async` keyword is missing from the function declaration
/// ```
#[cfg(all(feature = "macros", not(loopwork_loom)))]
pub use loopwork_macros::main;

/// Runs an `async fn` test on a fresh runtime (feature `macros`, on by
/// default): it adds `#[test]` and does what [`main`](macro@main) does, with
/// the same options (`loops = N`, `debug = true|false`) and the same checks.
/// Other attributes (`#[should_panic]`, `#[ignore]`) pass through, and so
/// does a `Result` return type.
///
/// Each test gets its own runtime, closed when the test's body returns; a
/// panicking test's runtime is shut down as it unwinds.
///
/// # Examples
///
/// ```
/// #[loopwork::test(loops = 2)]
/// async fn spawned_tasks_run() {
///     let task = loopwork::spawn(async { 1 + 1 });
///     assert_eq!(task.await.unwrap(), 2);
/// }
/// ```
///
/// Arguments cannot be passed to a test:
///
/// ```compile_fail
/// #[loopwork::test]
/// async fn takes_an_argument(n: u32) {} // error: #[loopwork::test] functions take no arguments
/// ```
#[cfg(all(feature = "macros", not(loopwork_loom)))]
pub use loopwork_macros::test;
