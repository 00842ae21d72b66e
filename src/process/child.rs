//! A spawned child: its exit watch (pidfd or SIGCHLD), waiting, killing,
//! and the background reaping of a child dropped while it runs.

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::{ExitStatus, Output};
use crate::net::Async;
use crate::reactor::io::READ;
use crate::runtime::shared::Shared;
use crate::signal::{signal, Signal, SignalKind};
use crate::sync::Arc;
use crate::sync::OnceLock;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A running (or finished, not yet dropped) child process.
///
/// Piped stdio ends are in the public fields, to take out and use from
/// other tasks, as with std. [`wait`](Child::wait) does not block a loop.
/// Dropping a `Child` whose process still runs does not kill it (unless
/// [`Command::kill_on_drop`](super::Command::kill_on_drop)), but it is
/// reaped in the background (see the [module docs](super)).
///
/// # Examples
///
/// ```
/// use loopwork::process::{Command, Stdio};
/// use std::os::unix::process::ExitStatusExt;
///
/// loopwork::run(async {
///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
///     assert!(child.try_wait().unwrap().is_none());
///     child.kill().unwrap();
///     let status = child.wait().await.unwrap();
///     assert_eq!(status.signal(), Some(libc::SIGKILL));
/// });
/// ```
pub struct Child {
    /// The child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    /// `None` only while `Drop` hands it to the background reaper.
    process: Option<Process>,
    kill_on_drop: bool,
    /// The runtime that spawned it: where a dropped child is reaped.
    shared: Arc<Shared>,
}

/// The process itself and how its exit is noticed.
struct Process {
    std: std::process::Child,
    exit: ExitWatch,
    /// Set once reaped: std's `try_wait` also remembers it, but this saves
    /// the call and keeps the answer after `exit` has nothing more to say.
    status: Option<ExitStatus>,
}

/// How a loop learns that the child exited (see the module docs).
enum ExitWatch {
    /// Readable once the process has exited.
    Pidfd(Async<OwnedFd>),
    /// Woken by every SIGCHLD in the process.
    Sigchld(Signal),
}

impl Child {
    pub(super) fn new(
        mut std: std::process::Child,
        shared: Arc<Shared>,
        kill_on_drop: bool,
    ) -> io::Result<Child> {
        let parts = (|| {
            let stdin = std.stdin.take().map(ChildStdin::new).transpose()?;
            let stdout = std.stdout.take().map(ChildStdout::new).transpose()?;
            let stderr = std.stderr.take().map(ChildStderr::new).transpose()?;
            let exit = ExitWatch::new(std.id())?;
            Ok::<_, io::Error>((stdin, stdout, stderr, exit))
        })();
        match parts {
            Ok((stdin, stdout, stderr, exit)) => Ok(Child {
                stdin,
                stdout,
                stderr,
                process: Some(Process {
                    std,
                    exit,
                    status: None,
                }),
                kill_on_drop,
                shared,
            }),
            Err(e) => {
                // Nobody will ever hold this child: stop it and reap it.
                let _ = std.kill();
                reap_on_a_thread(std);
                Err(e)
            }
        }
    }

    fn process(&mut self) -> &mut Process {
        self.process.as_mut().expect("present until drop")
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id() > 0);
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub fn id(&self) -> u32 {
        self.process.as_ref().expect("present until drop").std.id()
    }

    /// Sends `SIGKILL` to the child (std's `Child::kill`); `wait` then
    /// reports the signal. Does not wait: the process may still be running
    /// when this returns.
    ///
    /// # Errors
    /// Errors of `kill(2)`; none for a child that has already exited.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     child.kill().unwrap();
    ///     assert!(!child.wait().await.unwrap().success());
    /// });
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        let process = self.process();
        if process.status.is_some() {
            return Ok(());
        }
        process.std.kill()
    }

    /// The exit status if the child has exited (and reaps it), without
    /// waiting.
    ///
    /// # Errors
    /// Errors of `waitpid(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     assert_eq!(child.try_wait().unwrap(), None);
    /// });
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let process = self.process();
        if process.status.is_none() {
            process.status = process.std.try_wait()?;
        }
        Ok(process.status)
    }

    /// Waits for the child to exit, and reaps it. Closes the child's stdin
    /// first (as std does), so a child reading it to the end can finish.
    ///
    /// Cancel-safe: dropping the future and waiting again loses nothing.
    ///
    /// # Errors
    /// Errors of `waitpid(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// loopwork::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(7));
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(7)); // remembered
    /// });
    /// ```
    pub fn wait(&mut self) -> Wait<'_> {
        drop(self.stdin.take());
        Wait { child: self }
    }

    /// Reads stdout and stderr (those that are piped) to their ends, at the
    /// same time, then waits for the child; stdin is closed first.
    ///
    /// # Errors
    /// Errors of reading or waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let child = Command::new("sh").args(["-c", "echo out; echo err >&2"])
    ///         .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!((out.stdout, out.stderr), (b"out\n".to_vec(), b"err\n".to_vec()));
    /// });
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = (self.stdout.take(), self.stderr.take());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 16 * 1024];
        // Both at once: a child that fills one pipe while the parent reads
        // only the other would never finish.
        let mut open = [stdout.is_some(), stderr.is_some()];
        poll_fn(|cx| {
            for (i, open) in open.iter_mut().enumerate() {
                while *open {
                    let polled = match i {
                        0 => stdout.as_ref().map(|s| s.poll_read_ref(cx, &mut buf)),
                        _ => stderr.as_ref().map(|s| s.poll_read_ref(cx, &mut buf)),
                    };
                    match polled.expect("open only if present") {
                        Poll::Ready(Ok(0)) => *open = false,
                        Poll::Ready(Ok(n)) => {
                            if i == 0 { &mut out } else { &mut err }.extend_from_slice(&buf[..n])
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => break,
                    }
                }
            }
            if open.iter().any(|o| *o) {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        })
        .await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
        })
    }
}

impl Process {
    /// Ready with the exit status once the child has exited (reaped by
    /// std's `try_wait`); otherwise the task waits on the exit watch.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        let std = &mut self.std;
        let polled = match &mut self.exit {
            ExitWatch::Pidfd(pidfd) => pidfd.poll_io(READ, cx, &mut |_| match std.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }),
            ExitWatch::Sigchld(sigchld) => loop {
                // The listener was made before the first `try_wait`: an exit
                // after this one raises a SIGCHLD it counts.
                match std.try_wait() {
                    Ok(Some(status)) => break Poll::Ready(Ok(status)),
                    Err(e) => break Poll::Ready(Err(e)),
                    Ok(None) => {}
                }
                if sigchld.poll_recv(cx).is_pending() {
                    break Poll::Pending;
                }
            },
        };
        if let Poll::Ready(Ok(status)) = polled {
            self.status = Some(status);
        }
        polled
    }
}

impl ExitWatch {
    fn new(pid: u32) -> io::Result<ExitWatch> {
        if !no_pidfd() {
            match pidfd_open(pid) {
                Ok(fd) => return Ok(ExitWatch::Pidfd(Async::new(fd)?)),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ExitWatch::Sigchld(signal(SignalKind::child())?))
    }
}

/// `LOOPWORK_NO_PIDFD=1` forces the SIGCHLD fallback (read once).
fn no_pidfd() -> bool {
    static NO_PIDFD: OnceLock<bool> = OnceLock::new();
    *NO_PIDFD.get_or_init(|| std::env::var_os("LOOPWORK_NO_PIDFD").is_some_and(|v| v == "1"))
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd (or -1);
    // it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd (close-on-exec), owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The future of [`Child::wait`].
///
/// # Examples
///
/// ```
/// use loopwork::process::Command;
/// loopwork::run(async {
///     let mut child = Command::new("true").spawn().unwrap();
///     let wait: loopwork::process::Wait<'_> = child.wait();
///     assert!(wait.await.unwrap().success());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'a> {
    child: &'a mut Child,
}

impl Future for Wait<'_> {
    type Output = io::Result<ExitStatus>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        self.child.process().poll_wait(cx)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        if process.status.is_some() || matches!(process.std.try_wait(), Ok(Some(_)) | Err(_)) {
            return; // reaped (an error means it cannot be waited for at all)
        }
        if self.kill_on_drop {
            let _ = process.std.kill();
        }
        // Still running: a task on the spawning runtime waits for it. If
        // the runtime is closed, the task is dropped at once, and so is the
        // orphan, which then waits on a thread.
        let pid = process.std.id();
        let mut orphan = Orphan(Some(process));
        let reap = async move {
            let _ = poll_fn(|cx| orphan.0.as_mut().expect("until reaped").poll_wait(cx)).await;
            orphan.0.take(); // reaped (or unwaitable): nothing left for `Drop`
        };
        let name = format!("reap child {pid}");
        drop(crate::runtime::spawn_stealable(
            &self.shared,
            reap,
            // A reaper still waiting at shutdown is expected: quiet.
            crate::task::Builder::new().name(name).background(true),
            Location::caller(),
        ));
    }
}

/// A dropped child still running, on its way to being reaped.
struct Orphan(Option<Process>);

impl Drop for Orphan {
    fn drop(&mut self) {
        if let Some(process) = self.0.take() {
            // The reaping task was dropped first (its runtime closed).
            let Process { mut std, exit, .. } = process;
            drop(exit);
            if !matches!(std.try_wait(), Ok(Some(_)) | Err(_)) {
                reap_on_a_thread(std);
            }
        }
    }
}

/// Blocks a thread in `waitpid` until `std` exits: the last resort when no
/// loop can watch the child.
fn reap_on_a_thread(mut std: std::process::Child) {
    let pid = std.id();
    let spawned = std::thread::Builder::new()
        .name(format!("loopwork-reap-{pid}"))
        .spawn(move || {
            let _ = std.wait();
        });
    if let Err(e) = spawned {
        log::error!(target: "loopwork", "could not start a thread to reap child {pid}: {e}; it stays a zombie until this process exits");
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let process = self.process.as_ref();
        f.debug_struct("Child")
            .field("pid", &process.map(|p| p.std.id()))
            .field("status", &process.and_then(|p| p.status))
            .field(
                "exit_watch",
                &process.map(|p| match p.exit {
                    ExitWatch::Pidfd(_) => "pidfd",
                    ExitWatch::Sigchld(_) => "SIGCHLD",
                }),
            )
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Child>();
    is::<super::Command>();
}
