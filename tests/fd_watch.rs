//! asyncio's low-level I/O: `LoopHandle::add_reader` / `add_writer`, driven
//! with pipes.

mod common;

use loopwork::runtime::LoopHandle;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

/// A pipe whose read end is non-blocking: (read end, write end).
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array with two new fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    (File::from(r), File::from(w))
}

/// Runs `f` on `lp`'s thread and returns its result.
fn on_loop<R: Send + 'static>(
    lp: &LoopHandle,
    f: impl FnOnce(LoopHandle) -> R + Send + 'static,
) -> R {
    let here = lp.clone();
    lp.run_coroutine_threadsafe(async move { f(here) })
        .result()
        .unwrap()
}

/// Counts drops of the closure that owns it.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_pipe_driven_through_add_reader_delivers_every_byte_then_eof() {
    common::within(60, "add-reader-pipe", || {
        let rt = common::runtime(2);
        let lp = rt.loop_handle(1);
        let (mut r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let (done_tx, done_rx) = mpsc::channel();
        let calls = Arc::new(AtomicUsize::new(0));
        let calls2 = calls.clone();
        on_loop(&lp, move |lp| {
            let me = lp.clone();
            let mut total = 0usize;
            lp.add_reader(fd, move || {
                calls2.fetch_add(1, SeqCst);
                // Reads at most 4 KiB per call: the rest must bring the
                // callback back (level-triggered).
                let mut buf = [0u8; 4096];
                match r.read(&mut buf) {
                    Ok(0) => {
                        assert!(me.remove_reader(fd), "removing from inside the callback");
                        done_tx.send(total).unwrap();
                    }
                    Ok(n) => {
                        assert!(buf[..n].iter().all(|&b| b == 7));
                        total += n;
                    }
                    Err(e) => panic!("a reader was called with nothing to read: {e}"),
                }
            })
            .unwrap();
        });
        const LEN: usize = 1 << 20;
        let writer = std::thread::spawn(move || {
            w.write_all(&vec![7u8; LEN]).unwrap();
            // `w` closes here: the reader sees the end of file.
        });
        assert_eq!(done_rx.recv().unwrap(), LEN);
        writer.join().unwrap();
        assert!(
            calls.load(SeqCst) > LEN / 4096,
            "one call per 4 KiB read, and the EOF"
        );
        rt.close();
    });
}

#[test]
fn a_reader_is_called_while_data_is_left_and_never_without_it() {
    common::within(30, "add-reader-level", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (mut r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let (tx, rx) = mpsc::channel();
        let spurious = Arc::new(AtomicUsize::new(0));
        let spurious2 = spurious.clone();
        on_loop(&lp, move |lp| {
            lp.add_reader(fd, move || {
                let mut byte = [0u8; 1];
                match r.read(&mut byte) {
                    Ok(1) => tx.send(byte[0]).unwrap(),
                    _ => {
                        spurious2.fetch_add(1, SeqCst);
                    }
                }
            })
            .unwrap();
        });
        w.write_all(b"0123456789").unwrap();
        let got: Vec<u8> = (0..10).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(got, b"0123456789", "one byte per call, ten calls");
        // Drained: the next call comes only with the next byte.
        w.write_all(b"!").unwrap();
        assert_eq!(rx.recv().unwrap(), b'!');
        assert_eq!(spurious.load(SeqCst), 0, "called with nothing to read");
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}

#[test]
fn a_second_add_reader_replaces_the_callback_and_drops_the_first() {
    common::within(30, "add-reader-replace", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let first_calls = Arc::new(AtomicUsize::new(0));
        let first_drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (fc, fd_count) = (first_calls.clone(), DropCount(first_drops.clone()));
        let r = Arc::new(r);
        on_loop(&lp, move |lp| {
            lp.add_reader(fd, move || {
                let _owned = &fd_count;
                fc.fetch_add(1, SeqCst);
            })
            .unwrap();
            lp.add_reader(fd, move || {
                let mut byte = [0u8; 1];
                if (&*r).read(&mut byte).is_ok() {
                    tx.send(byte[0]).unwrap();
                }
            })
            .unwrap();
        });
        assert_eq!(
            first_drops.load(SeqCst),
            1,
            "the replaced callback is dropped"
        );
        w.write_all(b"x").unwrap();
        assert_eq!(rx.recv().unwrap(), b'x');
        assert_eq!(first_calls.load(SeqCst), 0);
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}

#[test]
fn a_reader_removed_inside_its_callback_is_dropped_and_never_called_again() {
    common::within(30, "add-reader-remove-inside", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let calls = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (c, d) = (calls.clone(), DropCount(drops.clone()));
        on_loop(&lp, move |lp| {
            let me = lp.clone();
            lp.add_reader(fd, move || {
                let _owned = &d;
                c.fetch_add(1, SeqCst);
                // Nothing is read: without the removal it would be called
                // again on every turn.
                assert!(me.remove_reader(fd));
                tx.send(()).unwrap();
            })
            .unwrap();
        });
        w.write_all(b"a").unwrap();
        rx.recv().unwrap();
        common::eventually(10, "the removed callback is dropped", || {
            drops.load(SeqCst) == 1
        });
        // A new reader for the same fd sees the byte the first one left.
        let (tx2, rx2) = mpsc::channel();
        let r = Arc::new(r);
        on_loop(&lp, move |lp| {
            lp.add_reader(fd, move || {
                let mut byte = [0u8; 1];
                if (&*r).read(&mut byte).is_ok() {
                    tx2.send(byte[0]).unwrap();
                }
            })
            .unwrap();
        });
        assert_eq!(rx2.recv().unwrap(), b'a');
        assert_eq!(calls.load(SeqCst), 1);
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}

#[test]
fn a_writer_runs_until_removed_and_a_reader_on_the_same_fd_is_independent() {
    common::within(30, "add-writer", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let fd = a.as_raw_fd();
        let a = Arc::new(a);
        let (tx, rx) = mpsc::channel();
        let (rtx, rrx) = mpsc::channel();
        let (a1, a2) = (a.clone(), a.clone());
        on_loop(&lp, move |lp| {
            let me = lp.clone();
            let mut left = 3;
            lp.add_writer(fd, move || {
                (&*a1).write_all(b"w").unwrap();
                left -= 1;
                if left == 0 {
                    assert!(me.remove_writer(fd));
                    tx.send(()).unwrap();
                }
            })
            .unwrap();
            lp.add_reader(fd, move || {
                let mut byte = [0u8; 1];
                if (&*a2).read(&mut byte).is_ok() {
                    rtx.send(byte[0]).unwrap();
                }
            })
            .unwrap();
        });
        rx.recv().unwrap();
        let mut got = [0u8; 3];
        (&b).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"www", "three calls, then removed");
        // The reader still works after the writer's removal.
        (&b).write_all(b"r").unwrap();
        assert_eq!(rrx.recv().unwrap(), b'r');
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}

#[test]
fn add_reader_on_another_thread_panics_in_debug_mode_naming_the_fix() {
    let rt = loopwork::Runtime::builder()
        .loops(1)
        .debug(true)
        .build()
        .unwrap();
    let (r, _w) = pipe();
    let fd = r.as_raw_fd();
    let lp = rt.loop_handle(0);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.add_reader(fd, || {}).unwrap();
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("LoopHandle::add_reader"), "{msg}");
    assert!(msg.contains("call_soon_threadsafe"), "{msg}");
    rt.close();
}

#[test]
fn add_reader_on_another_thread_in_production_is_handed_to_the_loop() {
    common::within(30, "add-reader-handoff", || {
        let rt = loopwork::Runtime::builder()
            .loops(1)
            .debug(false)
            .build()
            .unwrap();
        let (r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let lp = rt.loop_handle(0);
        let (tx, rx) = mpsc::channel();
        lp.add_reader(fd, move || {
            let mut byte = [0u8; 1];
            if (&r).read(&mut byte).is_ok() {
                tx.send(std::thread::current().name().unwrap().to_owned())
                    .unwrap();
            }
        })
        .unwrap();
        w.write_all(b"x").unwrap();
        assert_eq!(rx.recv().unwrap(), "loopwork-loop-0");
        assert_eq!(rt.metrics().wrong_thread_calls, 1);
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}

#[test]
fn fds_that_cannot_be_watched_are_refused_with_the_reason() {
    let rt = common::runtime(1);
    let lp = rt.loop_handle(0);
    let errs = on_loop(&lp, |lp| {
        let file = File::open("Cargo.toml").unwrap();
        let regular = lp.add_reader(file.as_raw_fd(), || {}).unwrap_err();
        let closed = lp.add_writer(1 << 20, || {}).unwrap_err();
        (regular.to_string(), closed.to_string())
    });
    assert!(errs.0.contains("regular file"), "{}", errs.0);
    assert!(errs.1.contains("not an open file descriptor"), "{}", errs.1);
    rt.close();
}

#[test]
fn a_panicking_callback_is_logged_and_its_watch_stays() {
    common::within(30, "add-reader-panic", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let (tx, rx) = mpsc::channel();
        on_loop(&lp, move |lp| {
            let mut calls = 0;
            lp.add_reader(fd, move || {
                let mut byte = [0u8; 1];
                (&r).read_exact(&mut byte).unwrap();
                calls += 1;
                if calls == 1 {
                    panic!("the first byte is rejected");
                }
                tx.send(byte[0]).unwrap();
            })
            .unwrap();
        });
        w.write_all(b"12").unwrap();
        assert_eq!(rx.recv().unwrap(), b'2', "called again after its panic");
        assert!(on_loop(&lp, move |lp| lp.remove_reader(fd)));
        rt.close();
    });
}
