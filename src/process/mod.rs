//! Subprocesses: [`Command`] mirrors `std::process::Command`, and its
//! [`Child`] is awaited on the loops (asyncio's `create_subprocess_exec`).
//!
//! # Invariants
//! * **A child is reaped exactly once, by whoever holds it.** The [`Child`]
//!   keeps std's `Child`, whose `try_wait` (`waitpid(pid, WNOHANG)`) is the
//!   only reaping call; a dropped, still running child moves into a
//!   background reaper that makes the same call (see *Dropping a running
//!   child*). The pid cannot be reused before that call, so signals and
//!   pidfds aimed at it never reach another process.
//! * **Waiting never blocks a loop.** An exit is noticed through the reactor:
//!   * **pidfd** (Linux 5.3 and later, the default): `pidfd_open(pid)` gives
//!     an fd that becomes readable when the child exits. It is an
//!     [`Async`](crate::net::Async) like a socket, so a wait is one `try_wait`
//!     and, if the child still runs, a park in the loop's poller; no signal
//!     handler, no thread, and no cost to other children.
//!   * **SIGCHLD** (the fallback, when `pidfd_open` fails with `ENOSYS` on an
//!     older kernel, or `EPERM` under a seccomp filter that forbids it): a
//!     [`signal`](crate::signal) listener made when the child is spawned,
//!     before its first `try_wait`. Each SIGCHLD (they coalesce) wakes every
//!     waiting child, which each try `waitpid` on their own pid. This costs
//!     one wake-up per waiting child per exit, and replaces SIGCHLD's default
//!     disposition with loopwork's handler (not `SIG_IGN`, which would make
//!     the kernel reap children itself).
//!
//!   pidfd is preferred because it is precise (one child, one fd, one event),
//!   races with nothing (the fd names the process, not a reusable number),
//!   and leaves the process's signal dispositions alone. Setting
//!   `LOOPWORK_NO_PIDFD=1` in the environment forces the fallback (read
//!   once per process; for testing it on a kernel that has pidfds).
//! * **Pipes are `Async` files.** `Stdio::piped()` ends become
//!   [`ChildStdin`], [`ChildStdout`] and [`ChildStderr`], non-blocking and
//!   registered with a loop's reactor at their first wait; they implement
//!   the `futures-io` `AsyncWrite` / `AsyncRead` traits.
//!
//! # Dropping a running child
//! As with std and tokio, dropping a [`Child`] does **not** kill the
//! process, unless [`Command::kill_on_drop`] was set (then it gets
//! `SIGKILL`). Either way the process does not stay a zombie: a child still
//! running when dropped is reaped in the background, by a task on the
//! runtime that spawned it (waiting on the same pidfd or SIGCHLD); if that
//! runtime is closed or closes first, by a thread that blocks in `waitpid`.
//! Its pipes close when the [`Child`] (or each pipe taken out of it) drops.
//!
//! # Examples
//!
//! ```
//! use loopwork::process::Command;
//!
//! loopwork::run(async {
//!     let out = Command::new("echo").arg("hello").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hello\n");
//! });
//! ```

mod child;
mod pipe;

pub use child::{Child, Wait};
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use crate::runtime::context;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::panic::Location;
use std::path::Path;

/// A process to spawn: `std::process::Command`'s builder, with [`spawn`],
/// [`status`] and [`output`] that do not block a loop.
///
/// The defaults are std's: `spawn` and `status` inherit stdin, stdout and
/// stderr; `output` captures stdout and stderr and gives the child a null
/// stdin. Anything std's builder can set is reachable through
/// [`as_std_mut`](Command::as_std_mut).
///
/// [`spawn`]: Command::spawn
/// [`status`]: Command::status
/// [`output`]: Command::output
///
/// # Examples
///
/// ```
/// use loopwork::process::Command;
///
/// loopwork::run(async {
///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await.unwrap();
///     assert_eq!(status.code(), Some(3));
/// });
/// ```
pub struct Command {
    std: std::process::Command,
    /// Which of stdin, stdout, stderr the caller set (`output` changes the
    /// defaults of the others only).
    set: [bool; 3],
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no `/`).
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = loopwork::process::Command::new("ls");
    /// assert_eq!(cmd.as_std().get_program(), "ls");
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            std: std::process::Command::new(program),
            set: [false; 3],
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = loopwork::process::Command::new("ls");
    /// cmd.arg("-l");
    /// assert_eq!(cmd.as_std().get_args().collect::<Vec<_>>(), ["-l"]);
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = loopwork::process::Command::new("ls");
    /// cmd.args(["-l", "-a"]);
    /// assert_eq!(cmd.as_std().get_args().count(), 2);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi")
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = loopwork::process::Command::new("env");
    /// cmd.envs([("A", "1"), ("B", "2")]);
    /// assert_eq!(cmd.as_std().get_envs().count(), 2);
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = loopwork::process::Command::new("env");
    /// cmd.env_remove("HOME");
    /// assert_eq!(cmd.as_std().get_envs().count(), 1);
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let out = Command::new("/usr/bin/env").env_clear().output().await.unwrap();
    ///     assert_eq!(out.stdout, b"");
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let out = Command::new("pwd").current_dir("/").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's stdin: `Stdio::piped()` makes [`Child::stdin`] a
    /// [`ChildStdin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped())
    ///         .spawn().unwrap();
    ///     child.stdin.take().unwrap().write_all(b"meow").await.unwrap(); // then closed
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!(out.stdout, b"meow");
    /// });
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.set[0] = true;
        self.std.stdin(cfg);
        self
    }

    /// The child's stdout: `Stdio::piped()` makes [`Child::stdout`] a
    /// [`ChildStdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let out = Command::new("echo").arg("x").stdout(Stdio::null()).output().await.unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.set[1] = true;
        self.std.stdout(cfg);
        self
    }

    /// The child's stderr: `Stdio::piped()` makes [`Child::stderr`] a
    /// [`ChildStderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped())
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stderr, b"oops\n");
    /// });
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.set[2] = true;
        self.std.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] while it runs sends it `SIGKILL`
    /// (default `false`, as in std and tokio). Either way a dropped child is
    /// reaped in the background, never left a zombie (see the
    /// [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     drop(child); // killed, then reaped in the background
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// std's builder, to read what is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = loopwork::process::Command::new("true");
    /// assert_eq!(cmd.as_std().get_program(), "true");
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// std's builder, for what this one does not wrap (e.g. `CommandExt`'s
    /// `uid`, `process_group` or `pre_exec`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// let mut cmd = loopwork::process::Command::new("true");
    /// cmd.as_std_mut().process_group(0);
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child. Its piped stdio, if any, are in [`Child::stdin`],
    /// [`Child::stdout`] and [`Child::stderr`].
    ///
    /// # Errors
    /// std's spawn errors (`NotFound` for a missing program, …), or failing to
    /// register the pipes or the pidfd.
    ///
    /// # Panics
    /// Outside a loopwork runtime (the child's pipes and exit are watched by
    /// a loop's reactor).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.wait().await.unwrap().success());
    ///     let missing = Command::new("/no/such/program").spawn().unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_at(Location::caller())
    }

    /// Runs the child with inherited stdio (unless set) and waits for it.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn), and errors of waiting.
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     assert!(Command::new("true").status().await.unwrap().success());
    ///     assert!(!Command::new("false").status().await.unwrap().success());
    /// });
    /// ```
    #[track_caller]
    pub fn status(&mut self) -> impl std::future::Future<Output = io::Result<ExitStatus>> + Send {
        let child = self.spawn_at(Location::caller());
        async move {
            let mut child = child?;
            // As std: nothing more will be written to a piped stdin.
            drop(child.stdin.take());
            child.wait().await
        }
    }

    /// Runs the child, collecting its stdout and stderr (piped unless set;
    /// stdin is null unless set), and waits for it.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn), and errors of reading or waiting.
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 1"])
    ///         .output().await.unwrap();
    ///     assert_eq!(out.status.code(), Some(1));
    ///     assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// });
    /// ```
    #[track_caller]
    pub fn output(&mut self) -> impl std::future::Future<Output = io::Result<Output>> + Send {
        if !self.set[0] {
            self.std.stdin(Stdio::null());
        }
        if !self.set[1] {
            self.std.stdout(Stdio::piped());
        }
        if !self.set[2] {
            self.std.stderr(Stdio::piped());
        }
        let child = self.spawn_at(Location::caller());
        // The defaults changed only for this call (as std's `output`).
        for (i, set) in self.set.iter().enumerate() {
            if !set {
                match i {
                    0 => self.std.stdin(Stdio::inherit()),
                    1 => self.std.stdout(Stdio::inherit()),
                    _ => self.std.stderr(Stdio::inherit()),
                };
            }
        }
        async move { child?.wait_with_output().await }
    }

    fn spawn_at(&mut self, location: &'static Location<'static>) -> io::Result<Child> {
        let Some(shared) = context::current_shared() else {
            crate::runtime::not_in_runtime("process::Command::spawn", location)
        };
        // No child is started under loom: its pipes could never be watched.
        #[cfg(loopwork_loom)]
        {
            let _ = shared;
            return Err(crate::reactor::loom_io_error());
        }
        #[cfg_attr(loopwork_loom, allow(unreachable_code))]
        let std_child = self.std.spawn()?;
        Child::new(std_child, shared, self.kill_on_drop)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.std, f)
    }
}
