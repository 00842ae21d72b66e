//! `LoopHandle`: names one loop of a runtime.

use super::context;
use super::shared::Shared;
use crate::sync::atomic::Ordering::SeqCst;
use crate::sync::Arc;
use std::fmt;

/// A handle to one loop. `Send + Sync + Clone`: any thread may hold one.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let handle = loopwork::spawn(async {
///         let here = loopwork::current_loop();
///         assert!(here.is_current());
///         here
///     })
///     .await
///     .unwrap();
///     assert!(!handle.is_current()); // block_on's thread is not a loop
///     assert!(!handle.is_closed());
/// });
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
}

impl LoopHandle {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> LoopHandle {
        LoopHandle { shared, index }
    }

    /// The loop's index within its runtime (`0..loops()`).
    pub fn id(&self) -> usize {
        self.index
    }

    /// Whether the calling thread is this loop's thread.
    pub fn is_current(&self) -> bool {
        context::with_core(|c| {
            c.is_some_and(|c| c.belongs_to(&self.shared) && c.index == self.index)
        })
    }

    /// Whether the loop has shut down (or its runtime is shutting down).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.shared.loops[self.index].closed.load(SeqCst)
    }

    /// The loop thread's name, `{prefix}-loop-{i}`.
    pub fn thread_name(&self) -> &str {
        &self.shared.loops[self.index].thread_name
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Loop {} '{}'>", self.index, self.thread_name())
    }
}

impl PartialEq for LoopHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared) && self.index == other.index
    }
}

impl Eq for LoopHandle {}

/// The loop running the calling task.
///
/// # Panics
/// Off a loop thread; use [`try_current_loop`] to ask instead.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let id = loopwork::spawn(async { loopwork::current_loop().id() }).await.unwrap();
///     assert!(id < num_cpus::get().max(1));
/// });
/// ```
#[track_caller]
pub fn current_loop() -> LoopHandle {
    try_current_loop().unwrap_or_else(|| {
        panic!(
            "loopwork::current_loop called at {} on thread '{}', which is not a loop thread: \
             call it from inside a task, or use try_current_loop()",
            std::panic::Location::caller(),
            std::thread::current().name().unwrap_or("<unnamed>")
        )
    })
}

/// The loop running the calling task, or `None` off a loop thread.
///
/// # Examples
///
/// ```
/// assert!(loopwork::try_current_loop().is_none());
/// ```
pub fn try_current_loop() -> Option<LoopHandle> {
    context::with_core(|c| c.map(|c| LoopHandle::new(c.shared.clone(), c.index)))
}
