//! `LoopHandle`: names one loop of a runtime.

use super::affinity::on_wrong_thread;
use super::callbacks::{CallbackHandle, CallbackState, LocalCallback, LocalCallbackHandle};
use super::context;
use super::event_loop::LoopCore;
use super::shared::{InboxItem, LoopShared, Shared};
use super::Closed;
use crate::sync::atomic::{AtomicU8, Ordering::SeqCst};
use crate::sync::Arc;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

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
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
    /// assert_eq!(rt.loop_handle(1).id(), 1);
    /// rt.close();
    /// ```
    pub fn id(&self) -> usize {
        self.index
    }

    /// Whether the calling thread is this loop's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// assert!(!lp.is_current()); // the main thread is not a loop
    /// let lp2 = lp.clone();
    /// assert!(lp.run_coroutine_threadsafe(async move { lp2.is_current() }).result().unwrap());
    /// rt.close();
    /// ```
    pub fn is_current(&self) -> bool {
        context::with_core(|c| {
            c.is_some_and(|c| c.belongs_to(&self.shared) && c.index == self.index)
        })
    }

    /// Whether the loop has shut down (or its runtime is shutting down).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// assert!(!lp.is_closed());
    /// rt.close();
    /// assert!(lp.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.shared.loops[self.index].closed.load(SeqCst)
    }

    /// The loop thread's name, `{prefix}-loop-{i}`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).thread_name("app").build().unwrap();
    /// assert_eq!(rt.loop_handle(0).thread_name(), "app-loop-0");
    /// rt.close();
    /// ```
    pub fn thread_name(&self) -> &str {
        &self.shared.loops[self.index].thread_name
    }

    /// The loop's clock (asyncio's `loop.time()`): a monotonic instant, the
    /// time base of [`call_at`](LoopHandle::call_at).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// let t0 = lp.time();
    /// assert!(lp.time() >= t0);
    /// rt.close();
    /// ```
    pub fn time(&self) -> Instant {
        crate::sync::now()
    }

    fn me(&self) -> &LoopShared {
        &self.shared.loops[self.index]
    }

    /// Runs `f` with this loop's core if the calling thread owns the loop.
    fn with_owner<R>(&self, f: impl FnOnce(Option<&LoopCore>) -> R) -> R {
        context::with_core(|c| f(c.filter(|c| c.belongs_to(&self.shared) && c.index == self.index)))
    }

    /// A loop-local call made off the owner thread (see `affinity`): debug
    /// mode panics; production counts it and hands the callback over as
    /// `call_soon_threadsafe` does, the item made by `item` from the
    /// handle's shared state. On a closed loop the callback is refused as
    /// `call_soon_threadsafe` would refuse it: its handle reports
    /// `dropped()` and a warning is logged; nothing stays "pending" for ever.
    fn off_owner(
        &self,
        api: &str,
        location: &'static Location<'static>,
        item: impl FnOnce(Arc<AtomicU8>) -> InboxItem,
    ) -> LocalCallbackHandle {
        on_wrong_thread(
            &self.shared,
            self.index,
            api,
            "call_soon_threadsafe",
            location,
        );
        let handle = CallbackHandle::pending();
        let state = handle.state.clone();
        if let Ok(_pass) = self.admit() {
            self.shared.send(self.index, item(state.clone()));
        } else {
            super::callbacks::mark_dropped(&state);
            log::warn!(
                target: "loopwork",
                "{api} at {location}: loop {} is closed; the callback is dropped (its handle \
                 reports dropped())",
                self.index
            );
        }
        LocalCallbackHandle {
            state: CallbackState::Shared(state),
        }
    }

    /// Passes the runtime's gate for a submission to this loop, or `Closed`.
    pub(crate) fn admit(&self) -> Result<crate::scheduler::gate::Pass<'_>, Closed> {
        let pass = self.shared.sched.gate.enter().ok_or(Closed(()))?;
        if self.me().closed.load(SeqCst) {
            return Err(Closed(()));
        }
        Ok(pass)
    }

    // ===== thread-safe: any thread =====

    /// Schedules `f` to run on this loop, from any thread (asyncio's
    /// `loop.call_soon_threadsafe`). The callback goes into the loop's inbox
    /// (a lock-free queue) and the loop is woken if it sleeps. Callbacks from
    /// one thread run in the order they were submitted. A panicking callback
    /// is caught and logged; the loop keeps running.
    ///
    /// # Errors
    /// `Closed` if the runtime or this loop has shut down: `f` is not run.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
    /// let lp = rt.loop_handle(1);
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_soon_threadsafe(move || {
    ///     tx.send(std::thread::current().name().unwrap().to_owned()).unwrap();
    /// })
    /// .unwrap();
    /// assert_eq!(rx.recv().unwrap(), "loopwork-loop-1");
    /// rt.close();
    /// ```
    #[track_caller]
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<CallbackHandle, Closed>
    where
        F: FnOnce() + Send + 'static,
    {
        let _pass = self.admit()?;
        let handle = CallbackHandle::pending();
        self.shared.send(
            self.index,
            InboxItem::Callback {
                f: Box::new(f),
                state: handle.state.clone(),
                location: Location::caller(),
            },
        );
        Ok(handle)
    }

    // ===== loop-local: the owner thread only =====

    /// Schedules `f` to run on this loop's next iteration (asyncio's
    /// `loop.call_soon`). **Loop-local**: call it on the loop's own thread.
    ///
    /// On another thread, debug mode panics naming the call site and the
    /// thread-safe alternative; production takes the thread-safe path (as
    /// [`call_soon_threadsafe`](LoopHandle::call_soon_threadsafe)) and counts
    /// the call in `RuntimeMetrics::wrong_thread_calls`. If the loop is
    /// closed, that path refuses the callback (as `call_soon_threadsafe`
    /// returns `Err(Closed)`): the handle reports
    /// [`dropped()`](LocalCallbackHandle::dropped) and a warning is logged.
    /// On its own loop during shutdown, the callback is dropped with the
    /// loop's other unrun callbacks and its handle reports `dropped()` too.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let got = loopwork::spawn(async {
    ///         let (tx, rx) = std::sync::mpsc::channel();
    ///         loopwork::current_loop().call_soon(move || tx.send(1).unwrap());
    ///         loopwork::yield_now().await; // let the loop run it
    ///         rx.try_recv().unwrap()
    ///     });
    ///     assert_eq!(got.await.unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn call_soon<F>(&self, f: F) -> LocalCallbackHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let location = Location::caller();
        self.with_owner(|core| match core {
            Some(core) => push_local_soon(core, Box::new(f), location),
            None => self.off_owner("LoopHandle::call_soon", location, |state| {
                InboxItem::Callback {
                    f: Box::new(f),
                    state,
                    location,
                }
            }),
        })
    }

    /// Schedules `f` to run on this loop once `delay` has passed (asyncio's
    /// `loop.call_later`). **Loop-local**, with the same wrong-thread rules as
    /// [`call_soon`](LoopHandle::call_soon). Never runs early.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let (tx, rx) = std::sync::mpsc::channel();
    ///         let start = Instant::now();
    ///         loopwork::current_loop().call_later(Duration::from_millis(5), move || {
    ///             tx.send(start.elapsed()).unwrap()
    ///         });
    ///         loopwork::sleep(Duration::from_millis(20)).await;
    ///         assert!(rx.try_recv().unwrap() >= Duration::from_millis(5));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn call_later<F>(&self, delay: Duration, f: F) -> LocalCallbackHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let deadline = super::timers::deadline_after(delay);
        self.call_at_inner("LoopHandle::call_later", deadline, f, Location::caller())
    }

    /// Schedules `f` to run on this loop at `when` (asyncio's `loop.call_at`;
    /// see [`time`](LoopHandle::time)). **Loop-local**, as
    /// [`call_soon`](LoopHandle::call_soon).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let lp = loopwork::current_loop();
    ///         let h = lp.call_at(lp.time() + Duration::from_secs(3600), || {});
    ///         assert!(h.cancel());
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn call_at<F>(&self, when: Instant, f: F) -> LocalCallbackHandle
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_at_inner("LoopHandle::call_at", when, f, Location::caller())
    }

    fn call_at_inner<F>(
        &self,
        api: &str,
        when: Instant,
        f: F,
        location: &'static Location<'static>,
    ) -> LocalCallbackHandle
    where
        F: FnOnce() + Send + 'static,
    {
        self.with_owner(|core| match core {
            Some(core) => {
                let state = CallbackState::local();
                core.timers.borrow_mut().insert_callback(
                    when,
                    LocalCallback {
                        f: Box::new(f),
                        state: state.clone(),
                        location,
                    },
                );
                LocalCallbackHandle { state }
            }
            None => self.off_owner(api, location, |state| {
                InboxItem::Call(Box::new(move || {
                    context::with_core(|core| {
                        let core = core.expect("internal handoff runs on its loop");
                        core.timers.borrow_mut().insert_callback(
                            when,
                            LocalCallback {
                                f: Box::new(f),
                                state: CallbackState::Shared(state),
                                location,
                            },
                        );
                    })
                }))
            }),
        })
    }
}

fn push_local_soon(
    core: &LoopCore,
    f: Box<dyn FnOnce()>,
    location: &'static Location<'static>,
) -> LocalCallbackHandle {
    let state = CallbackState::local();
    core.push_callback(LocalCallback {
        f,
        state: state.clone(),
        location,
    });
    LocalCallbackHandle { state }
}

/// Schedules a (possibly `!Send`) callback on the current loop's next
/// iteration (asyncio's `loop.call_soon` from inside the loop).
///
/// # Panics
/// Off a loop thread: use [`LoopHandle::call_soon_threadsafe`] there.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// loopwork::run(async {
///     loopwork::spawn(async {
///         loopwork::spawn_local(async {
///             let hits = Rc::new(Cell::new(0)); // !Send
///             let h = hits.clone();
///             loopwork::runtime::call_soon_local(move || h.set(h.get() + 1));
///             loopwork::yield_now().await;
///             assert_eq!(hits.get(), 1);
///         })
///         .await
///         .unwrap();
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[track_caller]
pub fn call_soon_local<F: FnOnce() + 'static>(f: F) -> LocalCallbackHandle {
    let location = Location::caller();
    context::with_core(|core| {
        let Some(core) = core else {
            context::not_a_loop_thread(
                "loopwork::runtime::call_soon_local",
                location,
                "use LoopHandle::call_soon_threadsafe from other threads",
            )
        };
        push_local_soon(core, Box::new(f), location)
    })
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync + Clone>() {}
    is::<LoopHandle>();
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
    let location = Location::caller();
    try_current_loop().unwrap_or_else(|| {
        context::not_a_loop_thread(
            "loopwork::current_loop",
            location,
            "call it from inside a task, or use try_current_loop()",
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
