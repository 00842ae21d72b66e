//! A loop's wait for I/O events and its wake-up (`notify`): on Linux a thin
//! epoll path beside `polling`, elsewhere `polling::Poller::wait` itself.
//!
//! # Why not `Poller::wait` on Linux
//! `polling` 3.11 makes four system calls around every `epoll_pwait`: it
//! sets its timerfd (even for no timeout or a zero one), re-arms the timerfd
//! and its notifier eventfd (both registered oneshot) with two `epoll_ctl`,
//! and reads the eventfd. A loop that parks often (an HTTP server between
//! bursts, a loop that receives sporadic handoffs) pays them on every park:
//! measured under `wrk`, 0.48 of loopwork's 2.63 system calls per request,
//! where tokio made 2.10 in all (BENCHMARKS.md, "Issue 16: the server
//! path"). Here the wait is one `epoll_pwait2` (nanosecond timeout, Linux
//! ≥ 5.11; `epoll_wait` with the timeout rounded up to whole milliseconds
//! before that), and the notifier is an eventfd of our own registered
//! edge-triggered once: every write makes a new edge, so it is never read
//! or re-armed (mio's waker does the same).
//!
//! Registration stays with `polling` (`reactor::io` adds, modifies and
//! deletes sources through the `Poller`, whose epoll fd this waits on).
//! `polling`'s own notifier and timerfd stay registered but are never
//! triggered, since its `wait` and `notify` are not called.
//!
//! # The contract (the one `polling` gives, which `reactor::parker` models
//! for loom and `scheduler::park` relies on)
//! * One thread waits at a time: `wait` try-locks, and a second thread's
//!   wait returns at once with no events (I/O event stealing).
//! * `notify` is deduplicated by a flag and sticky: a notify while nobody
//!   waits makes the next wait return at once. Whoever waits clears the
//!   flag after its wait returns (so a notify consumed by a stealer's wait
//!   is lost to the owner; `scheduler::park::poll_sibling` re-notifies).

/// What one event says about its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoEvent {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// Hang-up or error: the source is closed (`Readiness::mark_closed`).
    pub(crate) closed: bool,
}

/// Where a dispatch collects the wakers of the tasks its events wake (woken
/// after the sources' lock is released), kept with its waiter's events so
/// that it keeps its capacity from one wait to the next. A fresh `Vec` per
/// dispatch was one `malloc` and `free` per wait that brought events: 0.3
/// per HTTP request at half load, where tokio's driver allocates nothing
/// (BENCHMARKS.md, "Issue 16: CPU per request at half load").
#[derive(Default)]
pub(crate) struct WakerBuf(Vec<std::task::Waker>);

impl WakerBuf {
    /// The buffer, empty, for one dispatch; give it back with `put`.
    pub(crate) fn take(&mut self) -> Vec<std::task::Waker> {
        std::mem::take(&mut self.0)
    }

    /// Gives the buffer back after its wakers were woken (emptied, with
    /// its capacity).
    pub(crate) fn put(&mut self, mut wakers: Vec<std::task::Waker>) {
        wakers.clear();
        self.0 = wakers;
    }
}

#[cfg(target_os = "linux")]
pub(crate) use linux::{Events, Waiter};

#[cfg(not(target_os = "linux"))]
pub(crate) use portable::{Events, Waiter};

#[cfg(target_os = "linux")]
mod linux {
    use super::{IoEvent, WakerBuf};
    use crate::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    /// The key of the notifier's events (never a source's: the slab's keys
    /// are indices).
    const NOTIFY_KEY: u64 = u64::MAX;
    /// Events collected per wait (as `polling::Events::new()`).
    const CAPACITY: usize = 1024;

    /// Whether `epoll_pwait2` works here: 0 unknown, 1 yes, 2 no (`ENOSYS`:
    /// a kernel before 5.11, or a seccomp filter that refuses it).
    static PWAIT2: AtomicU8 = AtomicU8::new(0);

    /// The events buffer of one waiter (a loop's, or its stealers'), and
    /// the wakers buffer its dispatch reuses (see `super::WakerBuf`).
    pub(crate) struct Events {
        pub(super) list: Vec<libc::epoll_event>,
        wakers: WakerBuf,
    }

    impl Events {
        pub(crate) fn new() -> Events {
            Events {
                list: Vec::with_capacity(CAPACITY),
                wakers: WakerBuf::default(),
            }
        }

        pub(crate) fn wakers_mut(&mut self) -> &mut WakerBuf {
            &mut self.wakers
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.iter().next().is_none()
        }

        /// The I/O events of the last wait (the notifier's left out).
        pub(crate) fn iter(&self) -> impl Iterator<Item = IoEvent> + '_ {
            self.list.iter().filter(|e| e.u64 != NOTIFY_KEY).map(|e| {
                let flags = e.events as libc::c_int;
                let has = |f: libc::c_int| flags & f != 0;
                IoEvent {
                    key: e.u64 as usize,
                    readable: has(libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI),
                    writable: has(libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR),
                    closed: has(libc::EPOLLHUP | libc::EPOLLERR),
                }
            })
        }
    }

    /// The wait and the wake-up of one poller (see the module docs).
    pub(crate) struct Waiter {
        /// The `polling::Poller`'s epoll fd (the `Driver` owns both).
        epoll: RawFd,
        notifier: OwnedFd,
        notified: AtomicBool,
        pub(super) lock: std::sync::Mutex<()>,
    }

    impl Waiter {
        pub(crate) fn new(poller: &polling::Poller) -> io::Result<Waiter> {
            let epoll = poller.as_raw_fd();
            // SAFETY: plain system call; the flags are valid.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just created and is owned by nothing else.
            let notifier = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLET) as u32,
                u64: NOTIFY_KEY,
            };
            // SAFETY: `epoll` is the poller's open epoll fd (it outlives the
            // waiter: both belong to the same `Driver`), `fd` is open, `ev`
            // is a valid event.
            if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Waiter {
                epoll,
                notifier,
                notified: AtomicBool::new(false),
                lock: std::sync::Mutex::new(()),
            })
        }

        /// Waits for events or a notify for at most `timeout` (`None`: no
        /// limit); returns at once with none if another thread is waiting.
        pub(crate) fn wait(
            &self,
            _poller: &polling::Poller,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<usize> {
            events.list.clear();
            let Ok(_lock) = self.lock.try_lock() else {
                return Ok(0);
            };
            let result = self.epoll_wait(events, timeout);
            // After the wait, as `polling` does: a notify from now on writes
            // the eventfd again, and the next wait sees its edge.
            self.notified.swap(false, SeqCst);
            result
        }

        fn epoll_wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
            let max = events.list.capacity() as libc::c_int;
            let buf = events.list.as_mut_ptr();
            let n = loop {
                let n = if PWAIT2.load(Relaxed) != 2 {
                    let ts = timeout.map(|t| libc::timespec {
                        tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                        tv_nsec: t.subsec_nanos() as _,
                    });
                    let ts_ptr = ts
                        .as_ref()
                        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
                    // SAFETY: `buf` has room for `max` events; `ts_ptr` is
                    // null or points at a live timespec; no signal mask.
                    let n = unsafe {
                        libc::syscall(
                            libc::SYS_epoll_pwait2,
                            self.epoll,
                            buf,
                            max,
                            ts_ptr,
                            std::ptr::null::<libc::sigset_t>(),
                            0usize,
                        )
                    } as libc::c_int;
                    if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                        PWAIT2.store(2, Relaxed);
                        continue;
                    }
                    PWAIT2.store(1, Relaxed);
                    n
                } else {
                    // Whole milliseconds, rounded up: a timer must not fire
                    // early.
                    let ms = timeout.map_or(-1, |t| {
                        let ms = t.as_nanos().div_ceil(1_000_000);
                        ms.min(libc::c_int::MAX as u128) as libc::c_int
                    });
                    // SAFETY: `buf` has room for `max` events.
                    unsafe { libc::epoll_wait(self.epoll, buf, max, ms) }
                };
                if n >= 0 {
                    break n as usize;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
                // A signal: report an empty wait; the loop goes round again
                // (it re-checks its queues and timers before it waits).
                break 0;
            };
            // SAFETY: the kernel initialised the first `n` entries.
            unsafe { events.list.set_len(n) };
            Ok(n)
        }

        /// Wakes the current wait, or makes the next one return at once.
        pub(crate) fn notify(&self, _poller: &polling::Poller) -> io::Result<()> {
            if self
                .notified
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_err()
            {
                return Ok(());
            }
            let one: u64 = 1;
            loop {
                // SAFETY: writes 8 bytes from a live u64 to our eventfd.
                let n = unsafe {
                    libc::write(
                        self.notifier.as_fd().as_raw_fd(),
                        (&one as *const u64).cast(),
                        8,
                    )
                };
                if n == 8 {
                    return Ok(());
                }
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    // The counter is full (after 2^64 - 2 notifies): empty
                    // it and write again (the write makes the edge).
                    io::ErrorKind::WouldBlock => {
                        let mut buf = 0u64;
                        // SAFETY: reads 8 bytes into a live u64.
                        unsafe {
                            libc::read(
                                self.notifier.as_fd().as_raw_fd(),
                                (&mut buf as *mut u64).cast(),
                                8,
                            )
                        };
                    }
                    _ => return Err(e),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use super::{IoEvent, WakerBuf};
    use std::io;
    use std::time::Duration;

    /// The events buffer of one waiter, and the wakers buffer its dispatch
    /// reuses (see `super::WakerBuf`).
    pub(crate) struct Events(polling::Events, WakerBuf);

    impl Events {
        pub(crate) fn new() -> Events {
            Events(polling::Events::new(), WakerBuf::default())
        }

        pub(crate) fn wakers_mut(&mut self) -> &mut WakerBuf {
            &mut self.1
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = IoEvent> + '_ {
            self.0.iter().map(|ev| IoEvent {
                key: ev.key,
                readable: ev.readable,
                writable: ev.writable,
                closed: ev.is_interrupt() || ev.is_err() == Some(true),
            })
        }
    }

    /// `polling`'s own wait and notify.
    pub(crate) struct Waiter;

    impl Waiter {
        pub(crate) fn new(_poller: &polling::Poller) -> io::Result<Waiter> {
            Ok(Waiter)
        }

        pub(crate) fn wait(
            &self,
            poller: &polling::Poller,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<usize> {
            events.0.clear();
            poller.wait(&mut events.0, timeout)
        }

        pub(crate) fn notify(&self, poller: &polling::Poller) -> io::Result<()> {
            poller.notify()
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// The dispatch's wakers buffer comes back empty (no waker is woken
    /// twice or kept alive) and keeps its allocation for the next wait.
    #[test]
    fn a_returned_wakers_buffer_is_empty_and_keeps_its_capacity() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(0.into()));
        let mut events = Events::new();
        let mut wakers = events.wakers_mut().take();
        wakers.extend((0..3).map(|_| std::task::Waker::from(count.clone())));
        let capacity = wakers.capacity();
        let ptr = wakers.as_ptr();
        wakers.drain(..).for_each(|w| w.wake());
        events.wakers_mut().put(wakers);
        assert_eq!(Arc::strong_count(&count), 1, "every waker was consumed");
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        let again = events.wakers_mut().take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity, "the allocation is kept");
        assert_eq!(again.as_ptr(), ptr, "the same allocation");
    }

    fn waiter() -> (polling::Poller, Waiter) {
        let poller = polling::Poller::new().unwrap();
        let waiter = Waiter::new(&poller).unwrap();
        (poller, waiter)
    }

    #[test]
    fn a_notify_before_the_wait_makes_it_return_at_once_and_is_consumed() {
        let (poller, w) = waiter();
        w.notify(&poller).unwrap();
        w.notify(&poller).unwrap(); // deduplicated
        let mut events = Events::new();
        w.wait(&poller, &mut events, None).unwrap();
        assert_eq!(events.list.len(), 1, "the notify's one edge");
        assert!(events.is_empty(), "a notify is not an I/O event");
        // Consumed: nothing is pending any more.
        w.wait(&poller, &mut events, Some(Duration::ZERO)).unwrap();
        assert_eq!(events.list.len(), 0);
        // And the next notify makes a new edge.
        w.notify(&poller).unwrap();
        w.wait(&poller, &mut events, None).unwrap();
        assert_eq!(events.list.len(), 1);
    }

    #[test]
    fn a_notify_from_another_thread_ends_a_wait_without_timeout() {
        let poller = Arc::new(polling::Poller::new().unwrap());
        let w = Arc::new(Waiter::new(&poller).unwrap());
        let (p2, w2) = (poller.clone(), w.clone());
        let t = std::thread::spawn(move || {
            let mut events = Events::new();
            w2.wait(&p2, &mut events, None).unwrap();
        });
        // Notify until the waiter has returned: a notify that lands before
        // its wait starts is sticky, one that lands during it ends it.
        while !t.is_finished() {
            w.notify(&poller).unwrap();
            std::thread::yield_now();
        }
        t.join().unwrap();
    }

    #[test]
    fn a_readable_source_is_reported_with_its_key() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (poller, w) = waiter();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        // SAFETY: `a` is deleted from the poller before it is dropped.
        unsafe {
            poller
                .add_with_mode(&a, polling::Event::readable(7), polling::PollMode::Edge)
                .unwrap();
        }
        b.write_all(b"x").unwrap();
        let mut events = Events::new();
        w.wait(&poller, &mut events, Some(Duration::from_secs(10)))
            .unwrap();
        let got: Vec<IoEvent> = events.iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].key, 7);
        assert!(got[0].readable && !got[0].closed);
        drop(b);
        w.wait(&poller, &mut events, Some(Duration::from_secs(10)))
            .unwrap();
        let got: Vec<IoEvent> = events.iter().collect();
        assert!(got.iter().any(|e| e.key == 7 && e.readable));
        poller.delete(a.as_fd()).unwrap();
    }

    #[test]
    fn a_second_thread_waiting_returns_at_once_with_nothing() {
        let poller = Arc::new(polling::Poller::new().unwrap());
        let w = Arc::new(Waiter::new(&poller).unwrap());
        let _held = w.lock.lock().unwrap(); // as if another thread waited
        let mut events = Events::new();
        assert_eq!(w.wait(&poller, &mut events, None).unwrap(), 0);
    }

    #[test]
    fn a_timeout_below_a_millisecond_is_not_rounded_to_zero() {
        let (poller, w) = waiter();
        let mut events = Events::new();
        let start = Instant::now();
        w.wait(&poller, &mut events, Some(Duration::from_micros(300)))
            .unwrap();
        assert!(start.elapsed() >= Duration::from_micros(300));
    }
}
