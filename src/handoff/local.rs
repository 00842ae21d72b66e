//! `Local<T>`: a value bound to the loop that created it.
//!
//! `Local<T>` is `Send + Sync` whatever `T` is, because the value itself is
//! only ever touched on its owner loop's thread: `get` checks the thread in
//! every mode (soundness depends on it, so it is never compiled out), and a
//! `Local` dropped on another thread sends the value home through the owner's
//! inbox, where it is dropped on the owner thread. If the owner has closed,
//! the value is leaked and the leak is logged: it is never dropped on the
//! wrong thread. That decision lives in `local::home`, which loom model 8 runs.

use crate::runtime::context;
use crate::runtime::shared::{InboxItem, Shared};
use crate::sync::Arc;
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::Location;

/// A value that lives on one loop and may be carried anywhere.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// loopwork::run(async {
///     loopwork::spawn(async {
///         loopwork::spawn_local(async {
///             let local = loopwork::handoff::Local::new(Rc::new(5)); // Rc: !Send
///             assert_eq!(**local.get(), 5);
///             // The Local itself is Send: hand it to another thread...
///             let other = std::thread::spawn(move || {
///                 assert!(local.try_get().is_err()); // ...which cannot read it
///             });
///             other.join().unwrap(); // and its drop there sends the Rc home
///         })
///         .await
///         .unwrap()
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub struct Local<T: 'static> {
    value: ManuallyDrop<T>,
    shared: Arc<Shared>,
    index: usize,
}

// SAFETY: the value is accessed (read, dropped) only on its owner loop's
// thread: `get`/`try_get` check it and `Drop` sends the value home, so moving
// the wrapper between threads never moves access to `T`.
unsafe impl<T: 'static> Send for Local<T> {}
// SAFETY: as above; `&Local<T>` gives access to `&T` only on the owner thread.
unsafe impl<T: 'static> Sync for Local<T> {}

/// `Local::try_get` was called off the owner loop's thread.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let local = rt
///     .loop_handle(0)
///     .spawn_local_threadsafe(|| async { loopwork::handoff::Local::new(1) })
///     .result()
///     .unwrap();
/// let err = local.try_get().unwrap_err();
/// assert_eq!(err.owner, "loopwork-loop-0");
/// rt.close();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongThread {
    /// The owner loop's thread name.
    pub owner: String,
    /// The calling thread's name.
    pub caller: String,
}

impl fmt::Display for WrongThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "value owned by loop thread '{}' accessed from thread '{}': use \
             LoopHandle::call_soon_threadsafe to run the access on its loop",
            self.owner, self.caller
        )
    }
}

impl std::error::Error for WrongThread {}

impl<T: 'static> Local<T> {
    /// Binds `value` to the current loop.
    ///
    /// # Panics
    /// Off a loop thread.
    #[track_caller]
    pub fn new(value: T) -> Local<T> {
        let location = Location::caller();
        context::with_core(|core| {
            let Some(core) = core else {
                context::not_a_loop_thread(
                    "Local::new",
                    location,
                    "a Local is bound to the loop that creates it",
                )
            };
            Local {
                value: ManuallyDrop::new(value),
                shared: core.shared.clone(),
                index: core.index,
            }
        })
    }

    fn on_owner(&self) -> bool {
        context::with_core(|c| {
            c.is_some_and(|c| c.belongs_to(&self.shared) && c.index == self.index)
        })
    }

    fn wrong_thread(&self) -> WrongThread {
        WrongThread {
            owner: self.shared.loops[self.index].thread_name.clone(),
            caller: std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned(),
        }
    }

    /// The value, on the owner loop's thread.
    ///
    /// # Panics
    /// On any other thread, in every mode.
    #[track_caller]
    pub fn get(&self) -> &T {
        match self.try_get() {
            Ok(v) => v,
            Err(e) => panic!("Local::get at {}: {e}", Location::caller()),
        }
    }

    /// The value, or `Err(WrongThread)` off the owner loop's thread.
    pub fn try_get(&self) -> Result<&T, WrongThread> {
        if self.on_owner() {
            Ok(&self.value)
        } else {
            Err(self.wrong_thread())
        }
    }

    /// The id of the owning loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
    /// let local = rt
    ///     .loop_handle(1)
    ///     .spawn_local_threadsafe(|| async { loopwork::handoff::Local::new(()) })
    ///     .result()
    ///     .unwrap();
    /// assert_eq!(local.loop_id(), 1);
    /// rt.close();
    /// ```
    pub fn loop_id(&self) -> usize {
        self.index
    }
}

impl<T: 'static> Drop for Local<T> {
    fn drop(&mut self) {
        if self.on_owner() {
            // SAFETY: dropped once, here, on the owner thread.
            unsafe { ManuallyDrop::drop(&mut self.value) };
            return;
        }
        // SAFETY: taken once; `self.value` is not used again.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        let owner = &self.shared.loops[self.index];
        // Run by the owner, even during its shutdown; if it never runs, the
        // value is leaked and logged (see `home`).
        super::home::send_home(value, &self.shared.sched.gate, &owner.closed, |call| {
            self.shared.send(self.index, InboxItem::Call(call))
        });
    }
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Local<{}> on loop {}>",
            std::any::type_name::<T>(),
            self.index
        )
    }
}
