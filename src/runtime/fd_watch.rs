//! asyncio's low-level I/O: `LoopHandle::add_reader` / `add_writer` and
//! their removals — a callback run on the loop each time an fd is ready.
//!
//! # Invariants
//! * **Loop-local state.** A loop's watches live in a thread-local map on
//!   that loop's thread, keyed by fd, one entry per fd holding both
//!   directions (one poller registration per fd: epoll refuses a second
//!   `ADD`). Only the owner thread reads or writes it, and it is never
//!   borrowed while a user callback runs, so a callback may add, replace or
//!   remove watches, its own included.
//! * **The fd goes through the same reactor path as `Async<T>`.** It is
//!   registered with the loop's driver (`Driver::register`) and waited on
//!   with `Driver::poll_io`, whose readiness cache is edge-triggered. The
//!   "operation" it runs is a zero-timeout `poll(2)` of the fd: `WouldBlock`
//!   when the fd is not ready, which clears the cache and parks. That gives
//!   asyncio's level-triggered contract on an edge-triggered poller: the
//!   callback runs again while the fd stays ready, whether or not the
//!   callback drained it, at one `poll(2)` per call.
//! * **One pinned task per watched direction** runs the callback: wait for
//!   readiness, take the callback out of the map, call it (a panic is
//!   caught and logged, and the watch stays), put it back unless it was
//!   replaced or removed meanwhile, yield (so a never-drained fd cannot
//!   starve the loop: one call per direction per ready turn), repeat. Each
//!   direction has a generation: a task whose generation is no longer in
//!   the map stops, and `remove_*` also cancels it, so a task parked on the
//!   reactor does not linger.
//! * **Closing the fd first is the caller's bug**, as in asyncio: epoll drops
//!   a closed file by itself, so the watch would wait forever; and if the
//!   number is reused, `remove_*` on it would delete the *new* file's
//!   registration from this loop's poller. When the watch notices a closed
//!   fd (`POLLNVAL`) it logs an error and removes itself.

use super::LoopHandle;
use crate::reactor::io::{Source, READ, WRITE};
use crate::sync::Arc;
use crate::task::Task;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

/// A watched fd on the current (loop) thread.
struct Watch {
    source: Arc<Source>,
    dirs: [Option<Direction>; 2],
}

/// One watched direction of a [`Watch`].
struct Direction {
    /// `None` while the callback runs (it is out of the map then).
    callback: Option<Box<dyn FnMut()>>,
    generation: u64,
    /// The task that runs the callback; cancelled on removal.
    task: Option<Task<()>>,
}

// std's thread-locals also under the feature `loom`: nothing is ever
// registered there (the loom reactor refuses every fd, see
// `reactor::loom_driver`), so they stay empty.
thread_local! {
    static WATCHES: RefCell<HashMap<RawFd, Watch>> = RefCell::new(HashMap::new());
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

const API: [&str; 2] = ["add_reader", "add_writer"];
const REMOVE_API: [&str; 2] = ["remove_reader", "remove_writer"];

impl LoopHandle {
    /// Calls `callback` on this loop each time `fd` is readable, until
    /// [`remove_reader`](LoopHandle::remove_reader) (asyncio's
    /// `loop.add_reader`). Readiness is level-triggered: the callback runs
    /// again, one call per loop turn, while the fd stays readable, so it
    /// need not drain the fd in one call (an end of file or an error counts
    /// as readable, as in asyncio). A second `add_reader` for the same fd
    /// replaces the callback. A panic in the callback is caught and logged
    /// and the reader stays.
    ///
    /// **Loop-local**: call it on this loop's thread (from a task or a
    /// callback running there). On another thread debug mode panics, and
    /// production hands the registration to the loop (as
    /// `call_soon_threadsafe` would), logging an error there if it fails.
    ///
    /// The fd stays the caller's: loopwork neither reads it nor closes it
    /// nor changes its flags. **Remove the reader before closing the fd**,
    /// as asyncio requires: a closed fd's watch is never called again, and
    /// once its number is reused, `remove_reader` would unregister the new
    /// file instead.
    ///
    /// # Errors
    /// If the fd cannot be watched: not open (`EBADF`), a regular file
    /// (`EPERM`: epoll refuses files, which are always ready), or already
    /// registered with this loop by an [`Async`](crate::net::Async) (`EEXIST`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let (mut tx, rx) = UnixStream::pair().unwrap();
    ///         rx.set_nonblocking(true).unwrap();
    ///         let fd = rx.as_raw_fd();
    ///         let (got_tx, got_rx) = std::sync::mpsc::channel();
    ///         let lp = loopwork::current_loop();
    ///         let lp2 = lp.clone();
    ///         let mut rx = rx;
    ///         lp.add_reader(fd, move || {
    ///             let mut buf = [0u8; 16];
    ///             let n = rx.read(&mut buf).unwrap();
    ///             got_tx.send(buf[..n].to_vec()).unwrap();
    ///             lp2.remove_reader(fd); // one message is enough
    ///         })
    ///         .unwrap();
    ///         tx.write_all(b"ping").unwrap();
    ///         while got_rx.try_recv().map(|m| assert_eq!(m, b"ping")).is_err() {
    ///             loopwork::yield_now().await;
    ///         }
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn add_reader<F>(&self, fd: RawFd, callback: F) -> io::Result<()>
    where
        F: FnMut() + Send + 'static,
    {
        self.add_watch(READ, fd, Box::new(callback), Location::caller())
    }

    /// Calls `callback` on this loop each time `fd` is writable, until
    /// [`remove_writer`](LoopHandle::remove_writer) (asyncio's
    /// `loop.add_writer`). The same rules as
    /// [`add_reader`](LoopHandle::add_reader): level-triggered, loop-local,
    /// replaced by a second call, and removed before the fd is closed. A
    /// writer on an fd with room in its buffer runs on every loop turn:
    /// remove it when there is nothing left to write.
    ///
    /// # Errors
    /// As [`add_reader`](LoopHandle::add_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let (tx, _rx) = UnixStream::pair().unwrap();
    ///         let fd = tx.as_raw_fd();
    ///         let (done_tx, done_rx) = std::sync::mpsc::channel();
    ///         let lp = loopwork::current_loop();
    ///         let lp2 = lp.clone();
    ///         let mut tx = tx;
    ///         lp.add_writer(fd, move || {
    ///             tx.write_all(b"hello").unwrap();
    ///             assert!(lp2.remove_writer(fd));
    ///             done_tx.send(()).unwrap();
    ///         })
    ///         .unwrap();
    ///         while done_rx.try_recv().is_err() {
    ///             loopwork::yield_now().await;
    ///         }
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn add_writer<F>(&self, fd: RawFd, callback: F) -> io::Result<()>
    where
        F: FnMut() + Send + 'static,
    {
        self.add_watch(WRITE, fd, Box::new(callback), Location::caller())
    }

    /// Stops watching `fd` for readability (asyncio's `loop.remove_reader`);
    /// whether a reader was registered. Works from inside the reader's own
    /// callback, which then is not called again. Call it before closing the
    /// fd (see [`add_reader`](LoopHandle::add_reader)).
    ///
    /// **Loop-local**, like `add_reader`; on another thread in production the
    /// removal is handed to the loop and `true` means only that it was sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///         let lp = loopwork::current_loop();
    ///         assert!(!lp.remove_reader(a.as_raw_fd())); // nothing to remove
    ///         lp.add_reader(a.as_raw_fd(), || {}).unwrap();
    ///         assert!(lp.remove_reader(a.as_raw_fd()));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn remove_reader(&self, fd: RawFd) -> bool {
        self.remove_watch(READ, fd, Location::caller())
    }

    /// Stops watching `fd` for writability (asyncio's `loop.remove_writer`);
    /// whether a writer was registered. As
    /// [`remove_reader`](LoopHandle::remove_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///         let lp = loopwork::current_loop();
    ///         lp.add_writer(a.as_raw_fd(), || {}).unwrap();
    ///         assert!(lp.remove_writer(a.as_raw_fd()));
    ///         assert!(!lp.remove_writer(a.as_raw_fd()));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn remove_writer(&self, fd: RawFd) -> bool {
        self.remove_watch(WRITE, fd, Location::caller())
    }

    fn add_watch(
        &self,
        dir: usize,
        fd: RawFd,
        callback: Box<dyn FnMut() + Send>,
        location: &'static Location<'static>,
    ) -> io::Result<()> {
        if self.is_current() {
            return self.add_on_loop(dir, fd, callback, location);
        }
        let api = format!("LoopHandle::{}", API[dir]);
        let alternative = format!("call_soon_threadsafe (and call {} inside it)", API[dir]);
        super::affinity::on_wrong_thread(&self.shared, self.index, &api, &alternative, location);
        let this = self.clone();
        let handoff = move || {
            if let Err(e) = this.add_on_loop(dir, fd, callback, location) {
                log::error!(target: "loopwork", "{} at {location} (handed to loop {} from another thread) failed for fd {fd}: {e}", API[dir], this.index);
            }
        };
        if self.call_soon_threadsafe(handoff).is_err() {
            log::warn!(target: "loopwork", "{} at {location}: loop {} is closed; fd {fd} is not watched", API[dir], self.index);
        }
        Ok(())
    }

    fn remove_watch(&self, dir: usize, fd: RawFd, location: &'static Location<'static>) -> bool {
        if self.is_current() {
            return self.remove_on_loop(dir, fd, None);
        }
        let api = format!("LoopHandle::{}", REMOVE_API[dir]);
        let alternative = format!(
            "call_soon_threadsafe (and call {} inside it)",
            REMOVE_API[dir]
        );
        super::affinity::on_wrong_thread(&self.shared, self.index, &api, &alternative, location);
        let this = self.clone();
        self.call_soon_threadsafe(move || {
            this.remove_on_loop(dir, fd, None);
        })
        .is_ok()
    }

    /// On the owner thread: registers (or replaces) the watch.
    fn add_on_loop(
        &self,
        dir: usize,
        fd: RawFd,
        callback: Box<dyn FnMut()>,
        location: &'static Location<'static>,
    ) -> io::Result<()> {
        let driver = &self.shared.loops[self.index].driver;
        let source = match WATCHES.with_borrow_mut(|w| w.get(&fd).map(|w| w.source.clone())) {
            Some(source) => source,
            None => {
                check_open(fd).map_err(|e| explain(e, dir, fd))?;
                // SAFETY: `check_open` just saw the fd open; the caller keeps
                // it open until `remove_*` (documented), which deletes it
                // from the poller.
                let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
                let source = driver.register(borrowed).map_err(|e| explain(e, dir, fd))?;
                WATCHES.with_borrow_mut(|w| {
                    w.insert(
                        fd,
                        Watch {
                            source: source.clone(),
                            dirs: [None, None],
                        },
                    )
                });
                source
            }
        };
        let replaced = WATCHES.with_borrow_mut(|w| {
            let watch = w.get_mut(&fd).expect("inserted above");
            match watch.dirs[dir].as_mut() {
                Some(d) => Some(d.callback.replace(callback)),
                None => {
                    let generation = GENERATION.get() + 1;
                    GENERATION.set(generation);
                    watch.dirs[dir] = Some(Direction {
                        callback: Some(callback),
                        generation,
                        task: None,
                    });
                    None
                }
            }
        });
        if let Some(old) = replaced {
            drop(old); // outside the borrow: its drop may touch the map
            return Ok(());
        }
        let generation =
            WATCHES.with_borrow(|w| w[&fd].dirs[dir].as_ref().expect("set").generation);
        let this = self.clone();
        let name = format!("{}(fd {fd})", API[dir]);
        let task = super::spawn_local_inner(
            run_watch(this, dir, fd, generation, source),
            // A watch still registered at shutdown is ended by it, as
            // asyncio's loop.close() drops its readers: expected, quiet.
            crate::task::Builder::new().name(name).background(true),
            location,
        );
        WATCHES.with_borrow_mut(|w| {
            if let Some(d) = w.get_mut(&fd).and_then(|w| w.dirs[dir].as_mut()) {
                if d.generation == generation {
                    d.task = Some(task);
                }
            }
        });
        Ok(())
    }

    /// On the owner thread: removes the watch of `dir` (only generation
    /// `only` if given); unregisters the fd once neither direction is left.
    fn remove_on_loop(&self, dir: usize, fd: RawFd, only: Option<u64>) -> bool {
        let (removed, emptied) = WATCHES.with_borrow_mut(|w| {
            let Some(watch) = w.get_mut(&fd) else {
                return (None, None);
            };
            let matches = watch.dirs[dir]
                .as_ref()
                .is_some_and(|d| only.is_none_or(|g| d.generation == g));
            if !matches {
                return (None, None);
            }
            let removed = watch.dirs[dir].take();
            let emptied = if watch.dirs.iter().all(Option::is_none) {
                w.remove(&fd)
            } else {
                None
            };
            (removed, emptied)
        });
        // Outside the borrow: dropping a callback may call back into here.
        if let Some(watch) = emptied {
            self.shared.loops[self.index]
                .driver
                .deregister(&watch.source);
        }
        match removed {
            Some(d) => {
                if let Some(task) = &d.task {
                    task.cancel();
                }
                true
            }
            None => false,
        }
    }
}

/// The task of one watched direction (see the module docs).
async fn run_watch(lp: LoopHandle, dir: usize, fd: RawFd, generation: u64, source: Arc<Source>) {
    let current = |w: &HashMap<RawFd, Watch>| {
        w.get(&fd)
            .and_then(|w| w.dirs[dir].as_ref())
            .is_some_and(|d| d.generation == generation)
    };
    loop {
        let driver = &lp.shared.loops[lp.index].driver;
        let ready = poll_fn(|cx| driver.poll_io(&source, dir, cx, || level(fd, dir))).await;
        if let Err(e) = ready {
            if WATCHES.with_borrow(current) {
                log::error!(target: "loopwork", "{}(fd {fd}) on loop {}: {e}; the watch is removed (call {} before closing an fd)", API[dir], lp.index, REMOVE_API[dir]);
                lp.remove_on_loop(dir, fd, Some(generation));
            }
            return;
        }
        let taken = WATCHES.with_borrow_mut(|w| {
            w.get_mut(&fd)
                .and_then(|w| w.dirs[dir].as_mut())
                .filter(|d| d.generation == generation)
                .map(|d| d.callback.take())
        });
        let mut callback = match taken {
            None => return, // removed
            Some(None) => unreachable!(
                "only this task takes the callback out, and it puts it back before it yields"
            ),
            Some(Some(cb)) => cb,
        };
        if let Err(p) = catch_unwind(AssertUnwindSafe(&mut callback)) {
            log::error!(target: "loopwork", "{}(fd {fd}) callback on loop {} panicked: {}; the watch stays", API[dir], lp.index, crate::task::Panic::new(p).message());
        }
        let leftover = WATCHES.with_borrow_mut(|w| {
            match w
                .get_mut(&fd)
                .and_then(|w| w.dirs[dir].as_mut())
                .filter(|d| d.generation == generation)
            {
                Some(d) if d.callback.is_none() => {
                    d.callback = Some(callback);
                    None
                }
                _ => Some(callback), // replaced or removed while it ran
            }
        });
        drop(leftover);
        if !WATCHES.with_borrow(current) {
            return;
        }
        crate::task::yield_now().await;
    }
}

/// The "operation" of a watch: a zero-timeout `poll(2)`; `WouldBlock` if the
/// fd is not ready in `dir`.
fn level(fd: RawFd, dir: usize) -> io::Result<((), bool)> {
    let events = if dir == READ {
        libc::POLLIN
    } else {
        libc::POLLOUT
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1, no timeout; poll only reads
        // and writes that struct.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the fd was closed while it was still watched",
            ));
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        return Ok(((), false));
    }
}

fn check_open(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn explain(e: io::Error, dir: usize, fd: RawFd) -> io::Error {
    let why = match e.raw_os_error() {
        Some(libc::EBADF) => " (it is not an open file descriptor)",
        Some(libc::EPERM) => {
            " (a regular file is always ready: read it directly, or on the blocking pool)"
        }
        Some(libc::EEXIST) => {
            " (this loop's reactor already watches it, e.g. through an Async: use that instead)"
        }
        _ => "",
    };
    io::Error::new(
        e.kind(),
        format!("{}: fd {fd} cannot be watched: {e}{why}", API[dir]),
    )
}
