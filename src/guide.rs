//! The guide: how loopwork's pieces fit together, by task.
//!
//! The API reference says what each item does; this module says which items
//! to reach for and how they combine. It holds no code. Each section below
//! is self-contained, its examples are doctests, and new sections are added
//! at the end under their own `#` heading.
//!
//! Sections:
//! - [Signals and subprocesses](#signals-and-subprocesses)
//! - [Debug mode](#debug-mode)
//! - [Cancellation](#cancellation)
//! - [Concurrency and multithreading](#concurrency-and-multithreading)
//! - [Running blocking code](#running-blocking-code)
//! - [Logging](#logging)
//! - [Detect never-awaited futures](#detect-never-awaited-futures)
//! - [Detect never-retrieved errors](#detect-never-retrieved-errors)
//! - [Chain futures correctly](#chain-futures-correctly)
//! - [Pending task destroyed](#pending-task-destroyed)
//! - [Close the runtime](#close-the-runtime)
//! - [Find out why it hangs](#find-out-why-it-hangs)
//! - [Loop blocked right now](#loop-blocked-right-now)
//! - [Loom-check your own code](#loom-check-your-own-code)
//!
//! # Signals and subprocesses
//!
//! Both are process-wide resources made awaitable on the loops, without a
//! thread of their own: a signal's handler writes to a pipe that a loop's
//! reactor watches ([`crate::signal`]), and a child's exit is a pidfd
//! that becomes readable ([`crate::process`]).
//!
//! ## Stopping on Ctrl-C or SIGTERM
//!
//! Create the listeners first, then start the work, then wait: a signal that
//! arrives before the wait is kept, not lost. [`Signal::recv`] is a plain
//! future, so the usual ways of waiting for one of several futures apply;
//! with no combinator crate at hand, `poll_fn` does it:
//!
//! ```
//! use loopwork::signal::{signal, SignalKind};
//! use std::future::poll_fn;
//! use std::task::Poll;
//!
//! loopwork::run(async {
//!     let mut int = signal(SignalKind::interrupt()).unwrap();
//!     let mut term = signal(SignalKind::terminate()).unwrap();
//!     let server = loopwork::spawn(async { /* accept connections … */ });
//!
//!     # unsafe { libc::raise(libc::SIGTERM) };
//!     let which = poll_fn(|cx| {
//!         if int.poll_recv(cx).is_ready() {
//!             Poll::Ready("SIGINT")
//!         } else if term.poll_recv(cx).is_ready() {
//!             Poll::Ready("SIGTERM")
//!         } else {
//!             Poll::Pending
//!         }
//!     })
//!     .await;
//!     println!("{which}: shutting down");
//!     server.cancel();
//! });
//! ```
//!
//! For Ctrl-C alone, [`ctrl_c()`](crate::signal::ctrl_c) is shorter. Keep
//! in mind that the first listener of a signal replaces its default action
//! for the rest of the process: after it, Ctrl-C no longer kills the
//! program by itself, so the program must exit on its own.
//!
//! ## Reloading on SIGHUP, as often as it comes
//!
//! One listener, awaited in a loop (`loop { hup.recv().await; reload(); }`
//! in a real daemon): deliveries that arrive while a reload runs are kept
//! and coalesce into one more wake-up, so none is missed and a burst does
//! not queue a reload per signal.
//!
//! ```
//! use loopwork::signal::{signal, SignalKind};
//!
//! loopwork::run(async {
//!     let mut hup = signal(SignalKind::hangup()).unwrap();
//!     let mut reloads = 0;
//!     for burst in [1, 3] {
//!         for _ in 0..burst {
//!             // An operator's `kill -HUP <pid>`, here sent to ourselves.
//!             unsafe { libc::raise(libc::SIGHUP) };
//!         }
//!         hup.recv().await;
//!         reloads += 1; // re-read the configuration here
//!     }
//!     assert_eq!(reloads, 2); // the burst of three made one reload
//! });
//! ```
//!
//! ## Running a command and reading what it prints
//!
//! [`Command`](crate::process::Command) is std's builder;
//! [`output`](crate::process::Command::output) captures stdout and stderr
//! while it waits, and [`status`](crate::process::Command::status) only
//! waits. Neither blocks the loop, so many children can run at once from
//! ordinary tasks:
//!
//! ```
//! use loopwork::process::Command;
//!
//! loopwork::run(async {
//!     let jobs: Vec<_> = ["one", "two", "three"]
//!         .into_iter()
//!         .map(|word| loopwork::spawn(async move {
//!             Command::new("echo").arg(word).output().await.unwrap().stdout
//!         }))
//!         .collect();
//!     let mut words = Vec::new();
//!     for job in jobs {
//!         words.push(String::from_utf8(job.await.unwrap()).unwrap());
//!     }
//!     assert_eq!(words.concat(), "one\ntwo\nthree\n");
//! });
//! ```
//!
//! ## Talking to a child through its pipes
//!
//! Piped stdio ends are async pipes ([`ChildStdin`](crate::process::ChildStdin),
//! [`ChildStdout`](crate::process::ChildStdout)) with the `futures-io`
//! traits. Write and read in *different tasks* when the data can exceed a
//! pipe's buffer (64 KiB on Linux): a child blocked writing its output stops
//! reading its input. Dropping (or closing) stdin is the child's end of
//! input.
//!
//! ```
//! use loopwork::process::{Command, Stdio};
//!
//! loopwork::run(async {
//!     let mut child = Command::new("tr").arg("a-z").arg("A-Z")
//!         .stdin(Stdio::piped()).stdout(Stdio::piped())
//!         .spawn().unwrap();
//!     let stdin = child.stdin.take().unwrap();
//!     let feeder = loopwork::spawn(async move {
//!         for _ in 0..10_000 {
//!             stdin.write_all(b"shout ").await.unwrap();
//!         }
//!         // `stdin` drops here: `tr` sees the end of its input.
//!     });
//!     let out = child.wait_with_output().await.unwrap();
//!     feeder.await.unwrap();
//!     assert_eq!(out.stdout.len(), 60_000);
//!     assert!(out.stdout.starts_with(b"SHOUT SHOUT"));
//! });
//! ```
//!
//! ## Timeouts, killing, and what happens to a dropped child
//!
//! Wrap a wait in [`wait_for`](crate::wait_for); on a timeout the child is
//! still running, so [`kill`](crate::process::Child::kill) it and wait for
//! it to be reaped:
//!
//! ```
//! use loopwork::process::Command;
//! use std::os::unix::process::ExitStatusExt;
//! use std::time::Duration;
//!
//! loopwork::run(async {
//!     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
//!     let waited = loopwork::wait_for(Duration::from_millis(20), child.wait()).await;
//!     assert!(waited.is_err()); // timed out
//!     child.kill().unwrap();
//!     assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
//! });
//! ```
//!
//! A [`Child`](crate::process::Child) dropped while its process runs is
//! *not* killed (as with std and tokio) unless the command set
//! [`kill_on_drop(true)`](crate::process::Command::kill_on_drop); either
//! way it is reaped in the background, so no zombie is left behind.
//!
//! ## Watching a raw fd: `add_reader`
//!
//! A C library that hands over a file descriptor and a "call me when it is
//! readable" contract fits [`LoopHandle::add_reader`](crate::runtime::LoopHandle::add_reader)
//! (asyncio's `loop.add_reader`): the callback runs on the loop while the fd
//! is readable, until it is removed. It is loop-local, so register it from
//! a task or callback on that loop, and remove it before the fd is closed.
//! Code that can own the fd is usually simpler with [`Async`](crate::net::Async),
//! which turns readiness into futures.
//!
//! [`Signal::recv`]: crate::signal::Signal::recv
#![doc = include_str!("guide/debug-mode.md")]
#![doc = include_str!("guide/cancellation.md")]
#![doc = include_str!("guide/concurrency.md")]
#![doc = include_str!("guide/blocking.md")]
#![doc = include_str!("guide/logging.md")]
#![doc = include_str!("guide/never-awaited.md")]
#![doc = include_str!("guide/never-retrieved.md")]
#![doc = include_str!("guide/chain.md")]
#![doc = include_str!("guide/pending-destroyed.md")]
#![doc = include_str!("guide/close-runtime.md")]
#![doc = include_str!("guide/why_it_hangs.md")]
#![doc = include_str!("guide/loop_blocked.md")]
#![doc = include_str!("guide/loom.md")]
