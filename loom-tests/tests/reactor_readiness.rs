//! Model 9: an I/O source's readiness cache (`reactor::readiness`, the state
//! machine of `reactor::io`) — readers and writers running the real
//! `poll_io` sequence (sample `(ready, tick)`, syscall, `clear_ready_if` on
//! `WouldBlock`, `poll_ready`) racing the loop's real `dispatch` of a poller
//! event.
//!
//! No wakeup is lost: every operation ends with its datagram, or it holds a
//! listed waker that an event wakes. A lost one leaves its thread blocked in
//! [`block_on`] with no event to come, which loom reports as a deadlock.
//! Models (a)–(c) are edge-triggered (epoll, kqueue: new data is reported
//! once); (d) and (e) oneshot (re-armed through `poll_ready`'s and
//! `dispatch`'s `rearm`, level-checked); (f) and (g) are TCP reads that also
//! report "drained" (`TCP_INQ`, `net::inq`), which clears `ready` without a
//! `WouldBlock`, edge-triggered.
//!
//! Harness: [`Fd`], a simulated datagram socket (`recv` / `send` take one
//! datagram or say `WouldBlock`) and its oneshot poller registration (the
//! armed interests; `Poller::wait` as a condvar wait). The "kernel" side
//! queues datagrams (or frees send space) and then, edge-triggered, reports
//! one event through the real `Readiness::dispatch`; the waiters it returns
//! are woken after unlocking, as `Driver::dispatch` does. [`block_on`] is a
//! thread sleeping on its task's waker.
#![cfg(loopwork_loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loom_tests::{model, CountingWaker};
use loopwork::__loom::{Interest, Readiness, READ, WRITE};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// A read event, as `Poller::wait` reports it.
const READABLE: Interest = Interest {
    read: true,
    write: false,
};

/// A thread blocked on a task's waker: `wake` sets the flag and signals.
/// The flag and condvar are loom's; the `Arc` is std's, as `Wake` requires.
#[derive(Default)]
struct Unpark {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

/// Polls `fut` to completion on this thread, sleeping while it is `Pending`
/// until its waker is woken: a `Pending` never woken is a loom deadlock.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let unpark = std::sync::Arc::new(Unpark::default());
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let mut woken = unpark.woken.lock().unwrap();
        while !*woken {
            woken = unpark.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// The kernel's side of one datagram socket and its poller registration.
#[derive(Default)]
struct Fd {
    state: Mutex<FdState>,
    /// Signalled on every change `wait_oneshot` may be waiting for.
    changed: Condvar,
}

#[derive(Default)]
struct FdState {
    /// Datagrams waiting to be read.
    queued: usize,
    /// Datagrams the send buffer has room for.
    space: usize,
    /// Oneshot mode: the armed interests (`Poller::modify`); an event
    /// disarms both.
    armed: Option<Interest>,
    /// The model is done: `wait_oneshot` returns.
    shutdown: bool,
    /// The peer reset the connection: once the queue is empty, reads fail.
    reset: bool,
}

impl Fd {
    /// `recv`: one datagram, or `WouldBlock`.
    fn recv(&self) -> io::Result<usize> {
        let mut s = self.state.lock().unwrap();
        if s.queued == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        s.queued -= 1;
        Ok(1)
    }

    /// A TCP stream's `recvmsg` with `TCP_INQ` (`net::inq::recv`): everything
    /// queued, and whether the read left the socket drained (nothing queued;
    /// the kernel's hint does not count a reset). Then the reset's error, or
    /// `WouldBlock`.
    fn recv_stream(&self) -> io::Result<(usize, bool)> {
        let mut s = self.state.lock().unwrap();
        if s.queued > 0 {
            let n = std::mem::take(&mut s.queued);
            return Ok((n, true));
        }
        if s.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// The peer resets the connection.
    fn reset(&self) {
        self.state.lock().unwrap().reset = true;
        self.changed.notify_all();
    }

    /// `send`: one datagram, or `WouldBlock` while the buffer is full. The
    /// peer echoes it: it comes back at once, readable.
    fn send(&self) -> io::Result<usize> {
        let mut s = self.state.lock().unwrap();
        if s.space == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        s.space -= 1;
        s.queued += 1;
        drop(s);
        self.changed.notify_all();
        Ok(1)
    }

    /// The peer sends `n` datagrams (they arrive together: one edge).
    fn deliver(&self, n: usize) {
        self.state.lock().unwrap().queued += n;
        self.changed.notify_all();
    }

    /// The peer acknowledges: room for `n` more datagrams.
    fn free_space(&self, n: usize) {
        self.state.lock().unwrap().space += n;
        self.changed.notify_all();
    }

    fn queued(&self) -> usize {
        self.state.lock().unwrap().queued
    }

    /// `Poller::modify` in oneshot mode: arm for exactly the interests given.
    fn rearm(&self, interest: Interest) -> io::Result<()> {
        self.state.lock().unwrap().armed = Some(interest);
        self.changed.notify_all();
        Ok(())
    }

    /// `Poller::wait` in oneshot mode: blocks until an armed interest is
    /// ready (a level check; the event disarms the fd), or shutdown.
    fn wait_oneshot(&self) -> Option<Interest> {
        let mut s = self.state.lock().unwrap();
        loop {
            if let Some(armed) = s.armed {
                let fired = Interest {
                    read: armed.read && s.queued > 0,
                    write: armed.write && s.space > 0,
                };
                if fired.read || fired.write {
                    s.armed = None;
                    return Some(fired);
                }
            }
            if s.shutdown {
                return None;
            }
            s = self.changed.wait(s).unwrap();
        }
    }

    fn shutdown(&self) {
        self.state.lock().unwrap().shutdown = true;
        self.changed.notify_all();
    }
}

/// The loop in oneshot mode: `Poller::wait`, then the real `dispatch`
/// (which re-arms what still waits, under the source's lock) and the wakes
/// after unlocking, until shutdown.
fn run_oneshot_loop(source: &Readiness, fd: &Fd) {
    while let Some(fired) = fd.wait_oneshot() {
        let wake = source.dispatch(fired, |i| {
            let _ = fd.rearm(i);
        });
        wake.into_iter().for_each(Waker::wake);
    }
}

/// The loop's side of one event: the real `dispatch`, then the wakes after
/// unlocking (`Driver::dispatch`). Edge-triggered: nothing to re-arm.
fn dispatch_edge(source: &Readiness, fired: Interest) {
    for w in source.dispatch(fired, |_| ()) {
        w.wake();
    }
}

/// Edge-triggered registration: `poll_ready` has nothing to re-arm.
fn no_rearm(_: Interest) -> io::Result<()> {
    Ok(())
}

/// A task's `read_with(|s| s.recv())`: the real `poll_io` sequence, driven to
/// completion; blocks (a loom deadlock if never woken) while `Pending`.
fn read_with(source: &Readiness, fd: &Fd) -> usize {
    block_on(poll_fn(|cx| {
        source.poll_io(READ, cx, || fd.recv(), no_rearm)
    }))
    .expect("the simulated recv fails only with WouldBlock")
}

/// (a) A reader racing the kernel, which queues a datagram and dispatches
/// its edge at any point of the reader's sample / recv / clear / poll_ready:
/// the reader gets the datagram (directly, or after the edge wakes it).
#[test]
fn an_edge_racing_a_reader_is_never_lost() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let kernel = {
            let (source, fd) = (source.clone(), fd.clone());
            thread::spawn(move || {
                fd.deliver(1);
                dispatch_edge(&source, READABLE);
            })
        };
        assert_eq!(read_with(&source, &fd), 1);
        kernel.join().unwrap();
        assert_eq!(fd.queued(), 0);
    });
}

/// (b) Two readers on one source (two `recv_from` on a shared socket) and
/// one edge for two datagrams: every listed waiter is woken, so each reader
/// gets one datagram.
#[test]
fn one_edge_wakes_every_waiting_reader() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (source, fd) = (source.clone(), fd.clone());
                thread::spawn(move || read_with(&source, &fd))
            })
            .collect();
        fd.deliver(2);
        dispatch_edge(&source, READABLE);
        for r in readers {
            assert_eq!(r.join().unwrap(), 1, "each reader gets one datagram");
        }
        assert_eq!(fd.queued(), 0);
    });
}

/// Stages of the handshake of models (c) and (f).
const IDLE: u8 = 0;
const WOULD_BLOCK: u8 = 1;
const DISPATCHED: u8 = 2;

/// The handshake's stage and its condvar.
type Stage = Arc<(Mutex<u8>, Condvar)>;

/// The kernel's side of (c) and (f): once the reader's syscall has returned
/// (stage `WOULD_BLOCK`), queue a datagram, dispatch its edge and say
/// `DISPATCHED`.
fn edge_after_the_syscall(
    source: &Arc<Readiness>,
    fd: &Arc<Fd>,
    stage: &Stage,
) -> thread::JoinHandle<()> {
    let (source, fd, stage) = (source.clone(), fd.clone(), stage.clone());
    thread::spawn(move || {
        let (lock, cv) = &*stage;
        let mut s = lock.lock().unwrap();
        while *s != WOULD_BLOCK {
            s = cv.wait(s).unwrap();
        }
        fd.deliver(1);
        dispatch_edge(&source, READABLE);
        *s = DISPATCHED;
        cv.notify_all();
    })
}

/// The reader's side: after its first syscall (if `first` holds), hand over
/// to the kernel and wait until it has dispatched, then return `res`: the
/// edge lands between the syscall and `poll_io`'s clear.
fn wait_for_the_edge<T>(stage: &Stage, first: bool, res: T) -> T {
    let (lock, cv) = &**stage;
    let mut s = lock.lock().unwrap();
    if first && *s == IDLE {
        *s = WOULD_BLOCK;
        cv.notify_all();
        while *s != DISPATCHED {
            s = cv.wait(s).unwrap();
        }
    }
    res
}

/// (c) Edge-triggered: the edge lands exactly between the reader's
/// `WouldBlock` and its `clear_ready_if` (forced by a handshake inside the
/// simulated recv). The tick sampled before the recv is stale, so the clear
/// must not apply: the same poll retries and gets the datagram. Cleared,
/// the reader would wait for an edge that never comes again.
#[test]
fn an_edge_between_would_block_and_the_clear_is_kept() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let stage: Stage = Arc::new((Mutex::new(IDLE), Condvar::new()));
        let kernel = edge_after_the_syscall(&source, &fd, &stage);
        let recv_in_window = || {
            let res = fd.recv();
            wait_for_the_edge(&stage, res.is_err(), res)
        };
        let (wakes, waker) = CountingWaker::new();
        let poll = source.poll_io(
            READ,
            &mut Context::from_waker(&waker),
            recv_in_window,
            no_rearm,
        );
        kernel.join().unwrap();
        assert!(
            matches!(poll, Poll::Ready(Ok(1))),
            "the edge between WouldBlock and clear_ready_if was lost: \
             the reader is Pending with no event to come"
        );
        assert_eq!(wakes.wakes(), 0);
        assert_eq!(fd.queued(), 0);
    });
}

/// (d) Oneshot registration (no edge-triggered mode on the platform): the
/// reader's `poll_ready` re-arms the fd under the source's lock, the loop
/// waits (`Poller::wait`: armed and readable, level-checked), dispatches and
/// re-arms what still waits. The reader gets the datagram.
#[test]
fn a_oneshot_reader_is_rearmed_and_woken() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let event_loop = {
            let (source, fd) = (source.clone(), fd.clone());
            thread::spawn(move || {
                fd.deliver(1);
                run_oneshot_loop(&source, &fd);
            })
        };
        let got = block_on(poll_fn(|cx| {
            source.poll_io(READ, cx, || fd.recv(), |i| fd.rearm(i))
        }));
        assert_eq!(got.unwrap(), 1);
        fd.shutdown();
        event_loop.join().unwrap();
        assert_eq!(fd.queued(), 0);
    });
}

/// (e) Oneshot, a writer and a reader on one source, talking to an echo
/// peer: the reader waits for the echo of what the writer sends once the send
/// buffer has room. One `Poller::modify` sets both interests, so each re-arm
/// must carry the waiter lists as they are when it lands: `poll_ready`
/// re-arms under the lock. Re-armed after unlocking, the reader's stale
/// "read only" could land after the writer's "read and write": the fd is
/// then armed for an echo that needs the write first, and for nothing else.
#[test]
fn a_oneshot_rearm_keeps_the_other_directions_interest() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let writer = {
            let (source, fd) = (source.clone(), fd.clone());
            thread::spawn(move || {
                block_on(poll_fn(|cx| {
                    source.poll_io(WRITE, cx, || fd.send(), |i| fd.rearm(i))
                }))
            })
        };
        let event_loop = {
            let (source, fd) = (source.clone(), fd.clone());
            thread::spawn(move || {
                fd.free_space(1);
                run_oneshot_loop(&source, &fd);
            })
        };
        let got = block_on(poll_fn(|cx| {
            source.poll_io(READ, cx, || fd.recv(), |i| fd.rearm(i))
        }));
        assert_eq!(got.unwrap(), 1, "the reader gets the echo");
        assert_eq!(writer.join().unwrap().unwrap(), 1, "the writer sends");
        fd.shutdown();
        event_loop.join().unwrap();
        assert_eq!(fd.queued(), 0);
    });
}

/// A `TcpStream` read (`poll_read_tcp`): the real `poll_io` sequence with
/// the drained hint, driven to completion.
fn read_stream(source: &Readiness, fd: &Fd) -> io::Result<usize> {
    block_on(poll_fn(|cx| {
        source.poll_io_drained(READ, cx, || fd.recv_stream(), no_rearm)
    }))
}

/// (f) A read that the kernel says drained the socket clears `ready` with
/// the tick sampled *before* the read. Here the kernel queues more data and
/// dispatches its edge exactly between the read and the clear (forced by a
/// handshake inside the simulated recv, as in (c)): the clear must not
/// apply, so the next read gets the new data at once. Cleared with a tick
/// read after the recv, the edge would be erased and the reader would wait
/// for an event that never comes.
#[test]
fn an_edge_between_a_drained_read_and_the_clear_is_kept() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        fd.deliver(1);
        let stage: Stage = Arc::new((Mutex::new(IDLE), Condvar::new()));
        let kernel = edge_after_the_syscall(&source, &fd, &stage);
        // The read drains the socket, then lets the edge land before
        // `poll_io` clears.
        let recv_then_edge = || wait_for_the_edge(&stage, true, fd.recv_stream());
        let (wakes, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        let first = source.poll_io_drained(READ, &mut cx, recv_then_edge, no_rearm);
        assert!(matches!(first, Poll::Ready(Ok(1))));
        kernel.join().unwrap();
        let second = source.poll_io_drained(READ, &mut cx, || fd.recv_stream(), no_rearm);
        assert!(
            matches!(second, Poll::Ready(Ok(1))),
            "the edge between the drained read and its clear was lost: \
             the reader is Pending with no event to come"
        );
        assert_eq!(wakes.wakes(), 0);
    });
}

/// (g) Data and a reset under one hang-up event: the drained hint does not
/// count the reset, so the read of the data says "drained". After a hang-up
/// event (`mark_closed`, as `reactor::io::dispatch` does for `EPOLLHUP` /
/// `EPOLLERR`) the hint must not clear `ready`: the next read returns the
/// reset instead of waiting for an event that never comes.
#[test]
fn a_drained_read_after_a_hang_up_still_reaches_the_reset() {
    model(|| {
        let source = Arc::new(Readiness::new());
        let fd = Arc::new(Fd::default());
        let kernel = {
            let (source, fd) = (source.clone(), fd.clone());
            thread::spawn(move || {
                fd.deliver(1);
                fd.reset();
                source.mark_closed();
                dispatch_edge(&source, READABLE);
            })
        };
        let mut got = 0;
        let err = loop {
            match read_stream(&source, &fd) {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        kernel.join().unwrap();
        assert_eq!(got, 1);
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    });
}
