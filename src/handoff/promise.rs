//! `promise()`: a one-shot result set by one side and awaited by the other
//! (asyncio's `Future` used as a completion handle).

use super::oneshot::OneShot;
use crate::debug::unawaited::SharedOrigin;
use crate::sync::{Arc, Mutex};
use crate::task::trace::{self, LeafKind};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why [`Promise::set_result`] refused the value.
///
/// # Examples
///
/// ```
/// let (p, _f) = loopwork::handoff::promise::<u8>();
/// p.set_result(1).unwrap();
/// assert_eq!(p.set_result(2), Err(loopwork::handoff::InvalidState::AlreadySet));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidState {
    /// The future was cancelled.
    Cancelled,
    /// A result was already set.
    AlreadySet,
}

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidState::Cancelled => f.write_str("invalid state: the future was cancelled"),
            InvalidState::AlreadySet => f.write_str("invalid state: the result was already set"),
        }
    }
}

impl std::error::Error for InvalidState {}

/// Why a [`PromiseFuture`] has no value.
///
/// # Examples
///
/// ```
/// let (p, f) = loopwork::handoff::promise::<u8>();
/// drop(p);
/// assert_eq!(futures::executor::block_on(f), Err(loopwork::handoff::PromiseError::Dropped));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseError {
    /// [`PromiseFuture::cancel`] was called.
    Cancelled,
    /// The [`Promise`] was dropped without setting a result.
    Dropped,
}

impl fmt::Display for PromiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Cancelled => f.write_str("the promise's future was cancelled"),
            PromiseError::Dropped => f.write_str("the promise was dropped without a result"),
        }
    }
}

impl std::error::Error for PromiseError {}

struct Inner<T> {
    /// The result: the value, or why there is none.
    shot: OneShot<Result<T, PromiseError>>,
    /// The future was cancelled (a later `set_result` says so).
    cancelled: bool,
}

/// Makes a connected pair: set the result on the [`Promise`], await it on
/// the [`PromiseFuture`]. Both are `Send` when `T` is.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let (promise, fut) = loopwork::handoff::promise::<u32>();
///     std::thread::spawn(move || promise.set_result(7).unwrap());
///     assert_eq!(fut.await, Ok(7));
/// });
/// ```
#[track_caller]
pub fn promise<T>() -> (Promise<T>, PromiseFuture<T>) {
    let inner = Arc::new(Mutex::new(Inner {
        shot: OneShot::new(),
        cancelled: false,
    }));
    (
        Promise {
            inner: inner.clone(),
        },
        PromiseFuture {
            inner,
            origin: SharedOrigin::new(Location::caller()),
        },
    )
}

/// The setting side of [`promise`].
pub struct Promise<T> {
    inner: Arc<Mutex<Inner<T>>>,
}

impl<T> Promise<T> {
    /// Sets the result and wakes the awaiting side.
    ///
    /// # Errors
    /// `InvalidState::Cancelled` if the future was cancelled or dropped (the
    /// value is dropped), `InvalidState::AlreadySet` if a result was set
    /// before.
    ///
    /// # Examples
    ///
    /// ```
    /// let (promise, fut) = loopwork::handoff::promise::<&str>();
    /// fut.cancel();
    /// assert_eq!(promise.set_result("late"), Err(loopwork::handoff::InvalidState::Cancelled));
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), InvalidState> {
        let mut inner = self.inner.lock();
        if inner.cancelled {
            return Err(InvalidState::Cancelled);
        }
        if inner.shot.is_set() {
            return Err(InvalidState::AlreadySet);
        }
        let waker = inner.shot.set(Ok(value));
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the awaiting side cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let (p, f) = loopwork::handoff::promise::<u8>();
    /// assert!(!p.is_cancelled());
    /// f.cancel();
    /// assert!(p.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.lock().cancelled
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.lock();
        if !inner.shot.is_set() {
            let waker = inner.shot.set(Err(PromiseError::Dropped));
            drop(inner);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The awaiting side of [`promise`]: resolves to the value, or to a
/// [`PromiseError`] if cancelled or abandoned — never hangs.
#[must_use = "futures do nothing unless awaited"]
pub struct PromiseFuture<T> {
    inner: Arc<Mutex<Inner<T>>>,
    /// Where `promise()` was called: reported if it is dropped never
    /// polled, and the await graph's leaf while it waits.
    origin: SharedOrigin,
}

/// Dropping the future cancels it: a later `set_result` then returns
/// `Err(InvalidState::Cancelled)` instead of `Ok` for a value nobody can
/// receive.
impl<T> Drop for PromiseFuture<T> {
    fn drop(&mut self) {
        self.cancel_inner();
        self.origin.check_dropped(
            "PromiseFuture",
            "its promise is cancelled (call cancel() to do that on purpose)",
        );
    }
}

impl<T> PromiseFuture<T> {
    /// Cancels the future: the promise's `set_result` will then fail and
    /// awaiting gives `PromiseError::Cancelled`. `false` if a result was set
    /// already (it is kept).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_p, f) = loopwork::handoff::promise::<u8>();
    /// assert!(f.cancel());
    /// assert!(f.is_done());
    /// assert_eq!(futures::executor::block_on(f), Err(loopwork::handoff::PromiseError::Cancelled));
    /// ```
    pub fn cancel(&self) -> bool {
        self.origin.consume();
        self.cancel_inner()
    }

    fn cancel_inner(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.shot.is_set() {
            return false;
        }
        inner.cancelled = true;
        // The waker, if any, is this future's own task: nothing to wake.
        drop(inner.shot.set(Err(PromiseError::Cancelled)));
        true
    }

    /// Whether a result (or an error) is ready.
    ///
    /// # Examples
    ///
    /// ```
    /// let (p, f) = loopwork::handoff::promise::<u8>();
    /// assert!(!f.is_done());
    /// p.set_result(3).unwrap();
    /// assert!(f.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.origin.consume();
        self.inner.lock().shot.is_set()
    }
}

impl<T> Future for PromiseFuture<T> {
    type Output = Result<T, PromiseError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.origin.consume();
        let res = crate::task::coop::poll(cx, |cx| self.poll_slot(cx));
        if res.is_pending() {
            trace::set_leaf(LeafKind::Promise, 0, Some(self.origin.site()));
        }
        res
    }
}

impl<T> PromiseFuture<T> {
    fn poll_slot(&self, cx: &mut Context<'_>) -> Poll<Result<T, PromiseError>> {
        let mut inner = self.inner.lock();
        // An error stays: polled again, the future gives it again.
        if let Some(Err(e)) = inner.shot.get() {
            return Poll::Ready(Err(*e));
        }
        inner.shot.poll_take(cx).map(|r| {
            r.unwrap_or_else(|| panic!("PromiseFuture polled after it returned its value"))
        })
    }
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Promise")
    }
}

impl<T> fmt::Debug for PromiseFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PromiseFuture")
    }
}
