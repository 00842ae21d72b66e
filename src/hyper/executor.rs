//! `HyperExecutor`: hyper's `rt::Executor` as loopwork tasks.

use crate::runtime::Handle;
use crate::task;
use std::fmt;
use std::future::Future;

/// Runs the futures hyper hands off (HTTP/2's connection and stream tasks,
/// a client's background dispatch) as detached loopwork tasks, which any
/// loop may run and steal (hyper requires them to be `Send`).
///
/// [`HyperExecutor::new`] spawns on the runtime that `execute` is called in
/// (hyper calls it from inside the connection's own task, so that is the
/// connection's runtime); [`HyperExecutor::with_handle`] spawns on a given
/// runtime from any thread. The tasks are named `"hyper"` in task dumps.
///
/// # Panics
/// `execute` on an executor from [`new`](HyperExecutor::new), called outside
/// a loopwork runtime, panics naming the fix (`with_handle`). On a closed
/// runtime the future is dropped and a warning is logged.
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor;
/// use loopwork::hyper::HyperExecutor;
///
/// loopwork::run(async {
///     let (tx, rx) = loopwork::handoff::promise::<u32>();
///     HyperExecutor::new().execute(async move {
///         let _ = tx.set_result(7);
///     });
///     assert_eq!(rx.await.unwrap(), 7);
/// });
/// ```
///
/// For HTTP/2 it is the executor of the connection builders:
/// `hyper::server::conn::http2::Builder::new(HyperExecutor::new())`, and
/// likewise the client's `http2::handshake(HyperExecutor::new(), stream)`.
#[derive(Clone, Default)]
pub struct HyperExecutor {
    /// `None`: the runtime current at each `execute`.
    handle: Option<Handle>,
}

impl HyperExecutor {
    /// An executor that spawns on the runtime `execute` is called in.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = loopwork::hyper::HyperExecutor::new();
    /// # drop(exec);
    /// ```
    pub fn new() -> HyperExecutor {
        HyperExecutor { handle: None }
    }

    /// An executor that spawns on `handle`'s runtime, from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Executor;
    ///
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let exec = loopwork::hyper::HyperExecutor::with_handle(rt.handle());
    /// let (tx, rx) = loopwork::handoff::promise::<&str>();
    /// // From the main thread, outside the runtime:
    /// exec.execute(async move {
    ///     let _ = tx.set_result("ran on a loop");
    /// });
    /// assert_eq!(rt.block_on(rx).unwrap(), "ran on a loop");
    /// rt.close();
    /// ```
    pub fn with_handle(handle: Handle) -> HyperExecutor {
        HyperExecutor {
            handle: Some(handle),
        }
    }
}

impl<F> ::hyper::rt::Executor<F> for HyperExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        let handle = match &self.handle {
            Some(h) => h.clone(),
            None => Handle::try_current().unwrap_or_else(|| {
                panic!(
                    "loopwork::hyper::HyperExecutor::execute called outside a loopwork runtime \
                     (thread '{}'): make the executor with HyperExecutor::with_handle(handle) \
                     to spawn from any thread",
                    std::thread::current().name().unwrap_or("<unnamed>")
                )
            }),
        };
        if handle.is_closed() {
            log::warn!(
                target: "loopwork",
                "loopwork::hyper::HyperExecutor: the runtime is closed; a future hyper handed \
                 off was dropped without running"
            );
            return;
        }
        // Dropping a loopwork task detaches it: hyper watches its own
        // futures through their channels, not through a join handle.
        task::Builder::new()
            .name("hyper")
            .spawn_on(&handle, fut)
            .detach();
    }
}

impl fmt::Debug for HyperExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperExecutor")
            .field("handle", &self.handle)
            .finish()
    }
}
