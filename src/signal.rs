//! Unix signals as futures: [`ctrl_c`] and [`signal`], awaitable on any loop.
//!
//! # Invariants
//! * **The handler never allocates, locks or wakes.** Handlers are installed
//!   through `signal-hook-registry`, which chains them with any handler
//!   already present and saves `errno` around them. For each signal number
//!   there are two kinds of action, and each only touches memory that
//!   exists before it is registered and after it is removed:
//!   1. the *counter* action, registered once per signal and never removed:
//!      one atomic `fetch_add` on that signal's `delivered` count;
//!   2. one *wake-up* action per live [`Signal`]: `write(2)` of one byte to
//!      that listener's own non-blocking pipe (the self-pipe trick). A full
//!      pipe drops the byte; the count is what matters.
//!
//!   `signal-hook-registry` runs a signal's actions in the order they were
//!   registered, so the counter action (registered before any listener of
//!   its signal) has bumped the count before any listener's byte is written:
//!   a listener woken by its pipe always finds the new count.
//! * **Delivery is a count, per signal, shared by all listeners.** Each
//!   [`Signal`] remembers the count it has seen; [`Signal::recv`] completes
//!   when the count has moved past it, and then takes all of it: deliveries
//!   that arrive between two waits are kept for the next wait and coalesced
//!   into one, as in tokio. Several listeners of one signal each see each
//!   delivery, since each has its own `seen`.
//! * **A delivery while nobody listens is kept.** A new listener starts at
//!   the current count if other listeners of its signal are alive (they get
//!   what came before it). If none is, it starts at the count the last one
//!   had seen when it was dropped, so a delivery that arrived in between —
//!   say, a second Ctrl-C while `loop { ctrl_c().await?; … }` was between
//!   two iterations — is not lost. `live` and that mark are under the
//!   signal's mutex, which the handler never touches.
//! * **The pipe is read through the reactor.** Each listener's read end is an
//!   [`Async`] registered with the loop it is first awaited on (or loop 0 of
//!   the runtime of a `block_on`), so a wait parks in the loop's poller like
//!   any socket read; no thread is dedicated to signals.
//! * A listener's wake-up action is removed (`signal_hook_registry::unregister`,
//!   which waits for running handlers to leave it) *before* its pipe closes.
//!
//! # The process-wide cost
//! The first listener of a signal installs loopwork's handler for it, for
//! good: from then on that signal no longer has its default action (SIGINT
//! and SIGTERM no longer end the process), even after every listener is
//! dropped. That is tokio's behaviour too; a program
//! that wants Ctrl-C to end it after it stops listening should exit itself.
//!
//! # Examples
//!
//! ```
//! use loopwork::signal::{signal, SignalKind};
//!
//! loopwork::run(async {
//!     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
//!     // Send ourselves the signal; the listener keeps it until it waits.
//!     unsafe { libc::raise(libc::SIGUSR1) };
//!     usr1.recv().await;
//! });
//! ```

use crate::net::Async;
use crate::reactor::io::READ;
use crate::runtime::context;
// Not through `crate::sync`: the per-signal slots are process-wide statics
// touched by a real signal handler, never part of a loom model (under the
// feature `loom`, `signal` fails before it touches them).
use parking_lot::Mutex;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::task::{Context, Poll};

/// Signal numbers 1..=64 have a slot (Linux's `SIGRTMAX` is 64).
const SLOTS: usize = 65;

/// Which signal to listen for: a named constructor or a raw number.
///
/// # Examples
///
/// ```
/// use loopwork::signal::SignalKind;
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGHUP), SignalKind::hangup());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number. [`signal`] refuses those that cannot be caught
    /// (`SIGKILL`, `SIGSTOP`) or must not be (`SIGSEGV`, `SIGILL`, `SIGFPE`).
    ///
    /// # Examples
    ///
    /// ```
    /// let kind = loopwork::signal::SignalKind::from_raw(libc::SIGWINCH);
    /// assert_eq!(kind.as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn as_raw_value(self) -> libc::c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to exit (`kill`, systemd, Kubernetes).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; daemons use it for "reload".
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`, for the application's own use.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the application's own use.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::child().as_raw_value(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGWINCH`: the terminal was resized.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::window_change().as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::alarm().as_raw_value(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader. (Rust programs
    /// ignore it by default, so writes fail with `BrokenPipe` instead.)
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::signal::SignalKind::pipe().as_raw_value(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGHUP => "SIGHUP",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGALRM => "SIGALRM",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGSTOP => "SIGSTOP",
            n => return write!(f, "signal {n}"),
        };
        f.write_str(name)
    }
}

/// The process-wide state of one signal number (see the module docs).
struct Slot {
    /// Deliveries so far: the only thing the counter action touches.
    delivered: AtomicU64,
    state: Mutex<SlotState>,
}

struct SlotState {
    /// The counter action is registered.
    installed: bool,
    /// Live listeners.
    live: usize,
    /// What the last listener had seen when it was dropped: a new listener
    /// with no live sibling starts here, so deliveries since are kept.
    kept: u64,
}

#[allow(clippy::declare_interior_mutable_const)] // a template for the array below
const EMPTY: Slot = Slot {
    delivered: AtomicU64::new(0),
    state: parking_lot::const_mutex(SlotState {
        installed: false,
        live: 0,
        kept: 0,
    }),
};

static SIGNALS: [Slot; SLOTS] = [EMPTY; SLOTS];

/// A listener for one signal: [`recv`](Signal::recv) completes once per
/// delivery (deliveries between two waits count as one); also a `Stream`
/// of deliveries (`futures-core`).
///
/// Made by [`signal`]. `Send + Sync`: it can be created anywhere and awaited
/// on any loop, including a foreign thread's `block_on`. Each listener holds
/// a pipe (two file descriptors) until it is dropped.
///
/// # Examples
///
/// ```
/// use loopwork::signal::{signal, SignalKind};
///
/// loopwork::run(async {
///     let mut hup = signal(SignalKind::hangup()).unwrap();
///     let reloads = loopwork::spawn(async move {
///         hup.recv().await; // e.g. reload the configuration
///         "reloaded"
///     });
///     unsafe { libc::raise(libc::SIGHUP) };
///     assert_eq!(reloads.await.unwrap(), "reloaded");
/// });
/// ```
pub struct Signal {
    kind: SignalKind,
    slot: &'static Slot,
    /// The delivery count this listener has taken.
    seen: u64,
    /// This listener's wake-up action.
    action: signal_hook_registry::SigId,
    /// The pipe's read end, until the first wait turns it into `reader`.
    read_end: Option<OwnedFd>,
    reader: Option<Async<File>>,
    /// Written by the wake-up action; closed only after it is unregistered.
    _write_end: OwnedFd,
}

/// Listens for `kind`. The first listener of a signal installs loopwork's
/// handler for it, which replaces the signal's default action for the rest
/// of the process (see the [module docs](self)).
///
/// Needs no runtime: the listener registers with a loop's reactor when it is
/// first awaited. Deliveries count from the moment `signal` returns (or,
/// when no other listener of `kind` is alive, from when the last one was
/// dropped).
///
/// # Errors
/// `InvalidInput` for a signal that cannot or must not be caught
/// (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGILL`, `SIGFPE`) or out of range;
/// otherwise the error of creating the pipe.
///
/// # Examples
///
/// ```
/// use loopwork::signal::{signal, SignalKind};
///
/// let err = signal(SignalKind::from_raw(libc::SIGKILL)).err().unwrap();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
///
/// loopwork::run(async {
///     let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
///     unsafe { libc::raise(libc::SIGUSR2) };
///     usr2.recv().await;
/// });
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    #[cfg(loopwork_loom)]
    {
        let _ = kind;
        return Err(crate::reactor::loom_io_error());
    }
    #[cfg_attr(loopwork_loom, allow(unreachable_code))]
    let signum = kind.0;
    if signum <= 0 || signum as usize >= SLOTS || signal_hook_registry::FORBIDDEN.contains(&signum)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "loopwork::signal: {kind:?} cannot be listened for (SIGKILL and SIGSTOP cannot \
                 be caught; SIGSEGV, SIGILL and SIGFPE must keep their default action; numbers \
                 run from 1 to {})",
                SLOTS - 1
            ),
        ));
    }
    let slot = &SIGNALS[signum as usize];
    let (read_end, write_end) = pipe()?;
    let mut state = slot.state.lock();
    if !state.installed {
        // SAFETY: the action is async-signal-safe: one lock-free atomic RMW
        // on a static, no allocation, no lock.
        unsafe {
            signal_hook_registry::register(signum, move || {
                SIGNALS[signum as usize].delivered.fetch_add(1, SeqCst);
            })
        }?;
        state.installed = true;
    }
    // Sampled before the wake-up action exists: a delivery from here on is
    // in the count, and the first wait looks at the count before the pipe.
    let seen = if state.live == 0 {
        state.kept
    } else {
        slot.delivered.load(SeqCst)
    };
    let fd = write_end.as_raw_fd();
    // SAFETY: the action only calls write(2) (async-signal-safe) on a raw
    // fd that stays open until the action is unregistered (`Drop`); it
    // captures only that integer.
    let action = unsafe { signal_hook_registry::register(signum, move || wake(fd)) }?;
    state.live += 1;
    drop(state);
    Ok(Signal {
        kind,
        slot,
        seen,
        action,
        read_end: Some(read_end),
        reader: None,
        _write_end: write_end,
    })
}

/// The wake-up action: one byte into the listener's pipe. A full pipe
/// (`EAGAIN`) already wakes the reader, so the byte is not needed.
fn wake(fd: RawFd) {
    let byte = 1u8;
    // SAFETY: writes one byte from a live stack variable to an fd the
    // listener keeps open while this action is registered.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// A close-on-exec, non-blocking pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits for one `SIGINT` (Ctrl-C).
///
/// The listener is created when `ctrl_c` is *called*, not when the future
/// is first polled: a Ctrl-C that arrives in between is kept. Like every
/// listener, the first call replaces `SIGINT`'s default action for the rest
/// of the process; a program that should still stop on a later Ctrl-C exits
/// itself.
///
/// # Errors
/// The error of creating the listener (see [`signal`]).
///
/// # Examples
///
/// ```no_run
/// loopwork::run(async {
///     println!("serving; press Ctrl-C to stop");
///     loopwork::signal::ctrl_c().await.unwrap();
///     println!("shutting down");
/// });
/// ```
pub fn ctrl_c() -> CtrlC {
    CtrlC {
        listener: Some(signal(SignalKind::interrupt())),
    }
}

/// The future of [`ctrl_c`].
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let stop: loopwork::signal::CtrlC = loopwork::signal::ctrl_c();
///     unsafe { libc::raise(libc::SIGINT) };
///     stop.await.unwrap();
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CtrlC {
    listener: Option<io::Result<Signal>>,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.listener.as_mut() {
            Some(Ok(listener)) => listener.poll_recv(cx).map(Ok),
            Some(Err(_)) => match self.listener.take() {
                Some(Err(e)) => Poll::Ready(Err(e)),
                _ => unreachable!("matched just above"),
            },
            None => panic!("CtrlC polled after it completed"),
        }
    }
}

impl Signal {
    /// Waits for the next delivery; deliveries since the last wait (or since
    /// the listener was made) complete it at once, counted as one.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    ///
    /// # Panics
    /// If first awaited outside a loopwork runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::{signal, SignalKind};
    /// loopwork::run(async {
    ///     let mut winch = signal(SignalKind::window_change()).unwrap();
    ///     unsafe { libc::raise(libc::SIGWINCH) };
    ///     winch.recv().await;
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> Recv<'_> {
        Recv {
            signal: self,
            location: Location::caller(),
        }
    }

    /// Polls for the next delivery (for hand-written futures and streams).
    ///
    /// # Panics
    /// If first polled outside a loopwork runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::{signal, SignalKind};
    /// loopwork::run(async {
    ///     let mut alarm = signal(SignalKind::alarm()).unwrap();
    ///     unsafe { libc::raise(libc::SIGALRM) };
    ///     std::future::poll_fn(|cx| alarm.poll_recv(cx)).await;
    /// });
    /// ```
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_recv_at(cx, Location::caller())
    }

    /// The signal this listener listens for.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::{signal, SignalKind};
    /// let quit = signal(SignalKind::quit()).unwrap();
    /// assert_eq!(quit.kind(), SignalKind::quit());
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    fn poll_recv_at(&mut self, cx: &mut Context<'_>, location: &Location<'_>) -> Poll<()> {
        self.register(location);
        let reader = self.reader.as_ref().expect("registered just above");
        let mut buf = [0u8; 64];
        loop {
            let now = self.slot.delivered.load(SeqCst);
            if now != self.seen {
                self.seen = now;
                return Poll::Ready(());
            }
            // Drain the pipe; `Pending` means it is empty and this task is
            // listed for its next byte (see the module docs for why the
            // count, checked above, is then up to date).
            match reader.poll_io(READ, cx, &mut |mut f: &File| f.read(&mut buf)) {
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => panic!(
                    "loopwork::signal: reading the wake-up pipe of a {:?} listener failed: {e}",
                    self.kind
                ),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The pipe's read end, registered with the current runtime on first use.
    fn register(&mut self, location: &Location<'_>) {
        if self.reader.is_none() {
            if context::current_shared().is_none() {
                crate::runtime::not_in_runtime("signal::Signal::recv", location);
            }
            let fd = self.read_end.take().expect("present until the first wait");
            let reader = Async::new(File::from(fd)).unwrap_or_else(|e| {
                panic!(
                    "loopwork::signal: registering a {:?} listener failed: {e}",
                    self.kind
                )
            });
            self.reader = Some(reader);
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // `_write_end` closes after this body: unregister first, which also
        // waits for a handler that is running the action right now.
        signal_hook_registry::unregister(self.action);
        let mut state = self.slot.state.lock();
        state.live -= 1;
        if state.live == 0 {
            state.kept = self.seen;
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish()
    }
}

/// Each delivery (coalesced as for [`Signal::recv`]) is one item; the
/// stream never ends.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use loopwork::signal::{signal, SignalKind};
/// loopwork::run(async {
///     let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
///     unsafe { libc::raise(libc::SIGUSR2) };
///     assert_eq!(usr2.next().await, Some(()));
/// });
/// ```
impl futures_core::Stream for Signal {
    type Item = ();

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut()
            .poll_recv_at(cx, Location::caller())
            .map(Some)
    }
}

/// The future of [`Signal::recv`].
///
/// # Examples
///
/// ```
/// use loopwork::signal::{signal, SignalKind};
/// loopwork::run(async {
///     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
///     unsafe { libc::raise(libc::SIGUSR1) };
///     let next: loopwork::signal::Recv<'_> = usr1.recv();
///     next.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a> {
    signal: &'a mut Signal,
    location: &'static Location<'static>,
}

impl Future for Recv<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let location = self.location;
        self.signal.poll_recv_at(cx, location)
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Signal>();
    is::<CtrlC>();
}
