//! `accept` under `EMFILE` (issue 15, defect 4): a task retrying a failing
//! accept in a tight loop does not take its loop. Alone in its binary: it
//! lowers the process's open-file limit.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

/// Lowers the soft `RLIMIT_NOFILE` and opens fds until `EMFILE`; closes
/// them and restores the limit on drop.
struct Exhausted {
    fds: Vec<libc::c_int>,
    old: libc::rlimit,
}

impl Exhausted {
    fn now() -> Exhausted {
        // SAFETY: plain libc calls on a local struct and fds we own.
        unsafe {
            let mut old: libc::rlimit = std::mem::zeroed();
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
            let probe = libc::dup(0);
            assert!(probe >= 0);
            libc::close(probe);
            let new = libc::rlimit {
                rlim_cur: (probe as libc::rlim_t + 64).min(old.rlim_cur),
                rlim_max: old.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
            let mut fds = Vec::new();
            loop {
                let fd = libc::dup(0);
                if fd < 0 {
                    assert_eq!(
                        std::io::Error::last_os_error().raw_os_error(),
                        Some(libc::EMFILE)
                    );
                    break;
                }
                fds.push(fd);
            }
            Exhausted { fds, old }
        }
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        // SAFETY: closes fds opened by `now` and restores the saved limit.
        unsafe {
            for fd in self.fds.drain(..) {
                libc::close(fd);
            }
            libc::setrlimit(libc::RLIMIT_NOFILE, &self.old);
        }
    }
}

#[test]
fn a_task_retrying_an_accept_that_fails_with_emfile_leaves_its_loop_serving() {
    common::within(60, "accept-emfile", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let (go, go_fut) = loopwork::handoff::promise::<()>();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (first_err_tx, first_err) = mpsc::channel();
        let (s, e) = (stop.clone(), errors.clone());
        let server = lp.run_coroutine_threadsafe(async move {
            let listener = loopwork::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            go_fut.await.unwrap();
            let mut first = Some(first_err_tx);
            // The loop of the issue: retry at once on any error.
            while !s.load(SeqCst) {
                match listener.accept().await {
                    Ok(_) => {}
                    Err(err) => {
                        e.fetch_add(1, SeqCst);
                        if let Some(tx) = first.take() {
                            tx.send(err.raw_os_error()).unwrap();
                        }
                    }
                }
            }
        });
        let addr = addr_rx.recv().unwrap();
        // A connection waits in the backlog: the listener stays readable.
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let exhausted = Exhausted::now();
        go.set_result(()).unwrap();
        assert_eq!(first_err.recv().unwrap(), Some(libc::EMFILE));
        // The loop still runs callbacks while the accept keeps failing.
        let (tx, rx) = mpsc::channel();
        lp.call_soon_threadsafe(move || tx.send(()).unwrap())
            .unwrap();
        rx.recv().unwrap();
        stop.store(true, SeqCst);
        server.result().unwrap();
        drop(exhausted);
        assert!(errors.load(SeqCst) >= 1);
        rt.close();
    });
}
