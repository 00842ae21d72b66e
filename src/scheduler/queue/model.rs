//! A lock-based queue whose *emptiness checks* are lock-free, as
//! crossbeam's are: `push` publishes the new length with a `Release`
//! store and `is_empty`/`len` read it with an `Acquire` load, without the
//! lock. So a push followed by a read of some other atomic (a producer
//! checking the idle counts) is as weakly ordered against a parking
//! loop's re-check as it is with crossbeam (whose `Worker::push` is a
//! `Release` store of `back`), and the `SeqCst` fences of the idle and
//! park protocols are what loom must find in place. Pops and steals take
//! the lock: which item a steal gets is not what the models check.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::{Arc, Mutex};
use std::collections::VecDeque;

/// Models never hold more than this many items in one deque: a push past
/// it overflows half the items to the injector, as a bounded deque would.
pub(crate) const CAPACITY: usize = 4;

pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    Retry,
}

impl<T> Steal<T> {
    pub(crate) fn success(self) -> Option<T> {
        match self {
            Steal::Success(t) => Some(t),
            _ => None,
        }
    }
    pub(crate) fn is_retry(&self) -> bool {
        matches!(self, Steal::Retry)
    }
}

/// The items and their published length.
struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Queue<T> {
    fn new() -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::with_capacity(CAPACITY)),
            len: AtomicUsize::new(0),
        }
    }
    fn push(&self, t: T) {
        let mut items = self.items.lock();
        items.push_back(t);
        self.len.store(items.len(), Release);
    }
    fn pop(&self) -> Option<T> {
        let mut items = self.items.lock();
        let t = items.pop_front();
        self.len.store(items.len(), Release);
        t
    }
    fn len(&self) -> usize {
        self.len.load(Acquire)
    }
    /// Moves `first`, then up to `more` further items, from `self` into `dst`.
    /// The source lock is released before the destination's is taken,
    /// so two loops stealing from each other cannot deadlock.
    fn steal_into(&self, dst: &Queue<T>, more: impl Fn(usize, usize) -> usize) -> Steal<T> {
        let mut src = self.items.lock();
        let n = more(src.len(), dst.len());
        let Some(first) = src.pop_front() else {
            return Steal::Empty;
        };
        let batch: Vec<T> = (0..n).map_while(|_| src.pop_front()).collect();
        self.len.store(src.len(), Release);
        drop(src);
        if !batch.is_empty() {
            let mut moved = dst.items.lock();
            moved.extend(batch);
            dst.len.store(moved.len(), Release);
        }
        Steal::Success(first)
    }
}

pub(crate) struct Worker<T> {
    inner: Arc<Queue<T>>,
}

pub(crate) struct Stealer<T> {
    inner: Arc<Queue<T>>,
}

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Self {
        Stealer {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Worker<T> {
    pub(crate) fn new_fifo() -> Worker<T> {
        Worker {
            inner: Arc::new(Queue::new()),
        }
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer {
            inner: self.inner.clone(),
        }
    }
    pub(crate) fn push(&self, t: T) {
        self.inner.push(t);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.inner.pop()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<T> Stealer<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.inner.pop() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    /// Steals half (rounded up) of the items: one is returned, the rest
    /// moved to `dest`.
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        self.inner
            .steal_into(&dest.inner, |src, _| src.div_ceil(2).saturating_sub(1))
    }
}

pub(crate) struct Injector<T> {
    inner: Queue<T>,
}

impl<T> Default for Injector<T> {
    fn default() -> Self {
        Injector::new()
    }
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Injector<T> {
        Injector {
            inner: Queue::new(),
        }
    }
    pub(crate) fn push(&self, t: T) {
        self.inner.push(t);
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.inner.pop() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    /// Returns one item and moves more to `dest` until it holds half its capacity.
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        self.inner
            .steal_into(&dest.inner, |_, dst| (CAPACITY / 2).saturating_sub(dst))
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
}
