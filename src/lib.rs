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
//! # The public API, by role
//!
//! | module | what |
//! |---|---|
//! | [`runtime`] | [`Runtime`] and its [`Builder`](runtime::Builder), [`Handle`](runtime::Handle) (any thread), [`LoopHandle`](runtime::LoopHandle) (one loop: `call_soon*`, `call_later`, `add_reader`, …), [`run`], [`run_with`], [`spawn`], [`spawn_local`], metrics, the await graph ([`TaskTree`](runtime::TaskTree)) |
//! | [`task`] | [`Task`] (the join handle), [`TaskError`], [`task::Builder`] (a name, background tasks, `spawn_fallible`), [`yield_now`], [`TaskInfo`](task::TaskInfo) (what [`all_tasks`] returns) |
//! | [`time`] | [`sleep`], [`sleep_until`], [`wait_for`], [`time::Elapsed`] |
//! | [`blocking`] | [`spawn_blocking`], `run_in_executor`, [`blocking::BlockingExecutor`] |
//! | [`handoff`] | crossing threads: [`handoff::ConcurrentFuture`], [`handoff::promise`], [`handoff::Local`], [`shield`] |
//! | [`net`] | TCP, UDP and Unix sockets, [`net::Async`] for any fd |
//! | [`signal`], [`process`] | Unix signals as futures; subprocesses with async pipes |
//! | `hyper` | (feature `hyper`) hyper 1.x's executor, I/O and timer |
//! | [`guide`] | how the pieces fit, by task |
//!
//! The everyday names are also at the root: [`run`], [`spawn`],
//! [`spawn_local`], [`spawn_blocking`], [`sleep`], [`sleep_until`],
//! [`wait_for`], [`shield`], [`yield_now`], [`current_loop`], [`Task`],
//! [`TaskError`], [`Runtime`], [`all_tasks`], [`print_call_graph`].
//!
//! # Debug mode
//!
//! `LOOPWORK_DEBUG=1` (or [`Builder::debug`](runtime::Builder::debug),
//! [`run_with`], [`Runtime::set_debug`](runtime::Runtime::set_debug))
//! turns on asyncio-style diagnostics, logged through the `log` crate with
//! target `"loopwork"` (`RUST_LOG=loopwork=debug` with `env_logger`). See
//! the guide's [Debug mode](crate::guide#debug-mode) and [Logging](crate::guide#logging)
//! sections for what each check reports, and at which level.
//!
//! # Features
//!
//! - `macros` (on by default): the attributes `#[loopwork::main]` and
//!   `#[loopwork::test]`, which run an `async fn main` or an `async fn`
//!   test on a fresh runtime.
//! - `hyper` (off by default): `loopwork::hyper`, hyper 1.x's runtime
//!   traits (executor, I/O, timer) for loopwork.
//! - `loom` (off by default): loopwork inside a [loom](https://docs.rs/loom)
//!   model, to model-check your own code on it: loom's primitives
//!   throughout, loops as loom threads, a virtual clock, no I/O. Only for
//!   crates of loom models (see [`guide`], "Loom-check your
//!   own code").
//!
//! # Layering (for readers of the source)
//!
//! The source is in layers; a module imports only from its own layer or
//! below, and what a lower layer needs from a higher one reaches it through
//! a trait or a function it is handed (`scheduler::Driver`,
//! `scheduler::LoopHooks`, `task::Schedule`). Bottom to top:
//!
//! 1. `sync` (the std/loom switch), `debug` (diagnostic messages);
//! 2. `task` (raw task, state word, wakers, join handle);
//! 3. `scheduler` (queues, idle and park protocols, shutdown gate, a loop's
//!    iteration, search, event stealing and parking, the task hooks);
//! 4. `reactor` (the poller, I/O sources and their readiness);
//! 5. `runtime` (the loops' lifecycle, handles, thread context, timer
//!    store, callbacks, the blocking pool);
//! 6. features: `time`, `net`, `blocking`, `handoff`, `signal`, `process`,
//!    `hyper`, `guide`; a feature may use another feature, never in a
//!    circle.
//!
//! `tests/layering.rs` fails on an import that runs back up this order.

#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Under loom the I/O code is built but never reached (every registration
// fails), and the std-only helpers it would use are unused.
#![cfg_attr(loopwork_loom, allow(dead_code, unused_imports))]

// The layers, bottom to top (see "Layering" above).
pub mod blocking;
mod debug;
pub mod handoff;
pub(crate) mod reactor;
pub mod runtime;
pub(crate) mod scheduler;
pub(crate) mod sync;
pub mod task;
pub mod time;

pub mod guide;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
pub mod net;
pub mod process;
pub mod signal;

#[cfg(feature = "macros")]
#[doc(hidden)]
#[path = "macros.rs"]
pub mod __private;

pub use blocking::spawn_blocking;
pub use handoff::shield;
pub use runtime::{all_tasks, print_call_graph};
pub use runtime::{current_loop, run, run_with, spawn, spawn_local, try_current_loop, Runtime};
pub use task::{yield_now, Task, TaskError};
pub use time::{sleep, sleep_until, wait_for};

sync::cfg_loom! {
    #[doc(hidden)]
    #[path = "loom_api.rs"]
    pub mod __loom;
}

/// Runs `async fn main` on a fresh runtime (feature `macros`, on by default).
///
/// The body runs as the future of [`Runtime::block_on`](runtime::Runtime::block_on) on the main thread,
/// with the runtime's loops on their own threads; when it returns, the
/// runtime is closed (pending tasks are cancelled), as [`run`] does. Its
/// return value is `main`'s, so `-> Result<(), E>` works as usual.
///
/// Options, mapped onto [`Runtime::builder`](runtime::Runtime::builder):
/// - `loops = N`: [`Builder::loops`](runtime::Builder::loops) (default: one loop per CPU);
/// - `debug = true|false`: [`Builder::debug`](runtime::Builder::debug) (default: the `LOOPWORK_DEBUG`
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
///     let listener = loopwork::net::TcpListener::bind("127.0.0.1:0").await?;
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
#[cfg(feature = "macros")]
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
#[cfg(feature = "macros")]
pub use loopwork_macros::test;
