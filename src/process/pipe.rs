//! The parent's ends of a child's piped stdin, stdout and stderr.

use crate::net::Async;
use crate::reactor::io::{READ, WRITE};
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

fn register(fd: OwnedFd) -> io::Result<Async<File>> {
    Async::new(File::from(fd))
}

/// The writing end of a child's stdin (`Stdio::piped()`): `futures-io`'s
/// `AsyncWrite`, plus [`write`](ChildStdin::write) and
/// [`write_all`](ChildStdin::write_all). The child sees the end of its
/// input when this is dropped or closed (`AsyncWriteExt::close`).
///
/// # Examples
///
/// ```
/// use loopwork::process::{Command, Stdio};
/// loopwork::run(async {
///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped())
///         .spawn().unwrap();
///     let stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"12345").await.unwrap();
///     drop(stdin); // end of input
///     let out = child.wait_with_output().await.unwrap();
///     assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "5");
/// });
/// ```
pub struct ChildStdin {
    /// `None` once closed through `poll_close`.
    io: Option<Async<File>>,
}

/// The reading end of a child's stdout (`Stdio::piped()`): `futures-io`'s
/// `AsyncRead`, plus [`read`](ChildStdout::read) and
/// [`read_to_end`](ChildStdout::read_to_end).
///
/// # Examples
///
/// ```
/// use loopwork::process::{Command, Stdio};
/// loopwork::run(async {
///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
///     let mut out = Vec::new();
///     child.stdout.take().unwrap().read_to_end(&mut out).await.unwrap();
///     assert_eq!(out, b"hi\n");
///     child.wait().await.unwrap();
/// });
/// ```
pub struct ChildStdout {
    io: Async<File>,
}

/// The reading end of a child's stderr (`Stdio::piped()`), as
/// [`ChildStdout`].
///
/// # Examples
///
/// ```
/// use loopwork::process::{Command, Stdio};
/// loopwork::run(async {
///     let mut child = Command::new("sh").args(["-c", "echo no >&2"]).stderr(Stdio::piped())
///         .spawn().unwrap();
///     let mut err = Vec::new();
///     child.stderr.take().unwrap().read_to_end(&mut err).await.unwrap();
///     assert_eq!(err, b"no\n");
///     child.wait().await.unwrap();
/// });
/// ```
pub struct ChildStderr {
    io: Async<File>,
}

impl ChildStdin {
    pub(crate) fn new(std: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            io: Some(register(std.into())?),
        })
    }

    fn io(&self) -> io::Result<&Async<File>> {
        self.io.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "write to a ChildStdin after it was closed",
            )
        })
    }

    fn poll_write_ref(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.io() {
            Ok(io) => io.poll_io(WRITE, cx, &mut |mut f: &File| f.write(buf)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Writes some of `buf`; how much. Waits while the pipe is full.
    ///
    /// # Errors
    /// `BrokenPipe` once the child has closed its stdin (or exited);
    /// `NotConnected` after `close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null())
    ///         .spawn().unwrap();
    ///     let n = child.stdin.as_ref().unwrap().write(b"abc").await.unwrap();
    ///     assert!(n > 0);
    ///     child.stdin = None;
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_ref(cx, buf)).await
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// As [`write`](ChildStdin::write).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::{Command, Stdio};
    /// loopwork::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped())
    ///         .spawn().unwrap();
    ///     child.stdin.take().unwrap().write_all(b"all of it").await.unwrap();
    ///     assert_eq!(child.wait_with_output().await.unwrap().stdout, b"all of it");
    /// });
    /// ```
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_ref(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(())) // a pipe has no user-space buffer
    }

    /// Closes the pipe: the child reads an end of file.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io = None;
        Poll::Ready(Ok(()))
    }
}

macro_rules! reader {
    ($name:ident, $std:ty) => {
        impl $name {
            pub(crate) fn new(std: $std) -> io::Result<$name> {
                Ok($name {
                    io: register(std.into())?,
                })
            }

            pub(crate) fn poll_read_ref(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_io(READ, cx, &mut |mut f: &File| f.read(buf))
            }

            /// Reads some bytes into `buf`; 0 at the end (the child closed
            /// its end, usually by exiting).
            ///
            /// # Errors
            /// Errors of `read(2)`.
            ///
            /// # Examples
            ///
            /// ```
            /// use loopwork::process::{Command, Stdio};
            /// loopwork::run(async {
            ///     let mut child = Command::new("true").stdout(Stdio::piped())
            ///         .stderr(Stdio::piped()).spawn().unwrap();
            ///     let mut buf = [0u8; 8];
            ///     assert_eq!(child.stdout.as_ref().unwrap().read(&mut buf).await.unwrap(), 0);
            ///     assert_eq!(child.stderr.as_ref().unwrap().read(&mut buf).await.unwrap(), 0);
            ///     child.wait().await.unwrap();
            /// });
            /// ```
            pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                poll_fn(|cx| self.poll_read_ref(cx, buf)).await
            }

            /// Reads until the end, appending to `out`; how many bytes.
            ///
            /// # Errors
            /// Errors of `read(2)`.
            ///
            /// # Examples
            ///
            /// ```
            /// use loopwork::process::{Command, Stdio};
            /// loopwork::run(async {
            ///     let mut child = Command::new("sh").args(["-c", "echo a; echo b >&2"])
            ///         .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            ///     let (mut out, mut err) = (Vec::new(), Vec::new());
            ///     child.stdout.as_ref().unwrap().read_to_end(&mut out).await.unwrap();
            ///     child.stderr.as_ref().unwrap().read_to_end(&mut err).await.unwrap();
            ///     assert_eq!((out, err), (b"a\n".to_vec(), b"b\n".to_vec()));
            ///     child.wait().await.unwrap();
            /// });
            /// ```
            pub async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
                let start = out.len();
                let mut buf = [0u8; 8192];
                loop {
                    match self.read(&mut buf).await? {
                        0 => return Ok(out.len() - start),
                        n => out.extend_from_slice(&buf[..n]),
                    }
                }
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_ref(cx, buf)
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

reader!(ChildStdout, std::process::ChildStdout);
reader!(ChildStderr, std::process::ChildStderr);

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin")
            .field("fd", &self.io.as_ref().map(|io| io.get_ref().as_raw_fd()))
            .finish()
    }
}
