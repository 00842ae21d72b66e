//! The run queues: crossbeam-deque in production, a loom-modelled stand-in
//! with the same interface under `cfg(loopwork_loom)` (capacity shrunk to 4,
//! so models stay small while overflow paths are still explored).
//!
//! * `Worker` / `Stealer`: a loop's own FIFO deque; the owner pushes and pops,
//!   siblings steal about half of it when idle.
//! * `Injector`: a multi-producer FIFO queue, used for the runtime's global
//!   injection queue and for each loop's inbox.

#[cfg(not(loopwork_loom))]
pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};

#[cfg(loopwork_loom)]
pub(crate) use self::model::{Injector, Steal, Stealer, Worker};

#[cfg(loopwork_loom)]
mod model {
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

    pub(crate) struct Worker<T> {
        inner: Arc<Mutex<VecDeque<T>>>,
    }

    pub(crate) struct Stealer<T> {
        inner: Arc<Mutex<VecDeque<T>>>,
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
                inner: Arc::new(Mutex::new(VecDeque::with_capacity(CAPACITY))),
            }
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer {
                inner: self.inner.clone(),
            }
        }
        pub(crate) fn push(&self, t: T) {
            self.inner.lock().push_back(t);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.inner.lock().pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.inner.lock().len()
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.inner.lock().len()
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.inner.lock().pop_front() {
                Some(t) => Steal::Success(t),
                None => Steal::Empty,
            }
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            let mut src = self.inner.lock();
            let n = src.len().div_ceil(2);
            let Some(first) = src.pop_front() else {
                return Steal::Empty;
            };
            let mut dst = dest.inner.lock();
            for _ in 1..n {
                if let Some(t) = src.pop_front() {
                    dst.push_back(t);
                }
            }
            Steal::Success(first)
        }
    }

    pub(crate) struct Injector<T> {
        inner: Mutex<VecDeque<T>>,
    }

    impl<T> Default for Injector<T> {
        fn default() -> Self {
            Injector::new()
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Injector<T> {
            Injector {
                inner: Mutex::new(VecDeque::new()),
            }
        }
        pub(crate) fn push(&self, t: T) {
            self.inner.lock().push_back(t);
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.inner.lock().pop_front() {
                Some(t) => Steal::Success(t),
                None => Steal::Empty,
            }
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            let mut src = self.inner.lock();
            let Some(first) = src.pop_front() else {
                return Steal::Empty;
            };
            let mut dst = dest.inner.lock();
            while dst.len() < CAPACITY / 2 {
                match src.pop_front() {
                    Some(t) => dst.push_back(t),
                    None => break,
                }
            }
            Steal::Success(first)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.inner.lock().len()
        }
    }
}
