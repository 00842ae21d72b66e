//! The dump on a signal: with `Builder::dump_on_signal(sig)` (or
//! `LOOPWORK_DUMP_SIGNAL=USR1`), sending that signal to the process prints
//! the task tree of every runtime that opted in to stderr, as the JVM prints
//! its thread dumps on `SIGQUIT`.
//!
//! # Invariants
//! * The signal handler only `write`s one byte to a pipe (the self-pipe
//!   trick): async-signal-safe, no allocation, no lock. It is installed
//!   through `signal-hook-registry`, which chains it with other handlers of
//!   the same signal (including `loopwork::signal`'s).
//! * One dump thread per signal number, `loopwork-dump-{sig}`, reads the
//!   pipe and builds the trees from shared state, never on a loop thread:
//!   a dump works while every loop is blocked.
//! * The thread and the handler live for the rest of the process (a
//!   process opts in once); runtimes register with a weak reference, and a
//!   closed or dropped runtime is skipped and forgotten.

#[cfg(not(loopwork_loom))]
use super::introspect;
use super::shared::Shared;
use crate::sync::Arc;
#[cfg(not(loopwork_loom))]
use crate::sync::Mutex;
use std::io;
#[cfg(not(loopwork_loom))]
use std::sync::Weak;

#[cfg(not(loopwork_loom))]
/// The runtimes to dump, per signal number, and whether that signal's
/// handler and thread exist.
static REGISTERED: Mutex<Vec<(i32, Vec<Weak<Shared>>)>> = Mutex::new(Vec::new());

/// Under the `loom` feature there are no real signals: opting in is an
/// error that says so, never a dump that silently never comes.
#[cfg(loopwork_loom)]
pub(crate) fn install(_shared: &Arc<Shared>, signum: i32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "loopwork: the dump on signal {signum} (Builder::dump_on_signal, \
             LOOPWORK_DUMP_SIGNAL) is not available under the `loom` feature"
        ),
    ))
}

/// Dumps `shared`'s task tree to stderr whenever `signum` arrives.
#[cfg(not(loopwork_loom))]
pub(crate) fn install(shared: &Arc<Shared>, signum: i32) -> io::Result<()> {
    let mut reg = REGISTERED.lock();
    if let Some((_, runtimes)) = reg.iter_mut().find(|(s, _)| *s == signum) {
        runtimes.retain(|w| w.strong_count() > 0);
        runtimes.push(Arc::downgrade(shared));
        return Ok(());
    }
    let (read_fd, write_fd) = pipe()?;
    // SAFETY: the action only calls `write(2)`, which is async-signal-safe,
    // on an fd that stays open for the rest of the process; it allocates
    // nothing and takes no lock. `errno` is saved by the registry.
    let registered = unsafe {
        signal_hook_registry::register(signum, move || {
            let byte = 1u8;
            // SAFETY: a one-byte buffer that lives across the call; a full
            // pipe (non-blocking) drops the byte, and one dump is pending anyway.
            libc::write(write_fd, &byte as *const u8 as *const libc::c_void, 1);
        })
    };
    if let Err(e) = registered {
        close(read_fd);
        close(write_fd);
        return Err(e);
    }
    std::thread::Builder::new()
        .name(format!("loopwork-dump-{signum}"))
        .spawn(move || dump_thread(signum, read_fd))?;
    reg.push((signum, vec![Arc::downgrade(shared)]));
    Ok(())
}

#[cfg(not(loopwork_loom))]
fn dump_thread(signum: i32, read_fd: i32) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer of the given length from the
        // pipe this thread owns.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        let runtimes: Vec<Arc<Shared>> = {
            let mut reg = REGISTERED.lock();
            let Some((_, list)) = reg.iter_mut().find(|(s, _)| *s == signum) else {
                return;
            };
            list.retain(|w| w.upgrade().is_some_and(|s| !s.is_closed()));
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for shared in runtimes {
            introspect::dump_to_stderr(&shared);
        }
    }
}

#[cfg(not(loopwork_loom))]
fn pipe() -> io::Result<(i32, i32)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid two-int array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The handler must never block: a non-blocking write end.
    // SAFETY: fcntl on an fd just created here; no memory is touched.
    unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((fds[0], fds[1]))
}

#[cfg(not(loopwork_loom))]
fn close(fd: i32) {
    // SAFETY: closing an fd this module created and no one else uses.
    unsafe { libc::close(fd) };
}

/// The signal named by `LOOPWORK_DUMP_SIGNAL` (`USR1`, `SIGUSR1`, `usr2`,
/// `QUIT`, or a number), if set.
///
/// # Panics
/// If the variable is set to something that is not a signal: an opt-in
/// that silently did nothing would be found out only when it was needed.
pub(crate) fn from_env() -> Option<i32> {
    let v = std::env::var("LOOPWORK_DUMP_SIGNAL").ok()?;
    let name = v.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let sig = match name {
        "" => return None,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "QUIT" => libc::SIGQUIT,
        "HUP" => libc::SIGHUP,
        "WINCH" => libc::SIGWINCH,
        other => other.parse().unwrap_or_else(|_| {
            panic!(
                "LOOPWORK_DUMP_SIGNAL={v:?} is not a signal: use USR1, USR2, QUIT, HUP, WINCH or a \
                 signal number (or unset it)"
            )
        }),
    };
    Some(sig)
}
