//! Thread affinity: loop-local APIs on the wrong thread, and `Local<T>`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;
use std::time::Duration;

fn debug_runtime(loops: usize) -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(loops)
        .debug(true)
        .build()
        .unwrap()
}

fn assert_wrong_thread_message(msg: &str, api: &str, loop_id: usize, owner: &str, caller: &str) {
    assert!(msg.contains(api), "names the API: {msg}");
    assert!(
        msg.contains(&format!("loop {loop_id}")),
        "names the loop: {msg}"
    );
    assert!(
        msg.contains(&format!("'{owner}'")),
        "names the owner thread: {msg}"
    );
    assert!(
        msg.contains(&format!("'{caller}'")),
        "names the calling thread: {msg}"
    );
    assert!(
        msg.contains("tests/affinity.rs:"),
        "names the call site: {msg}"
    );
    assert!(
        msg.contains("call_soon_threadsafe"),
        "names the thread-safe alternative: {msg}"
    );
}

#[test]
fn debug_mode_call_soon_from_a_foreign_thread_panics_with_every_part() {
    let rt = debug_runtime(1);
    let lp = rt.loop_handle(0);
    let err = std::thread::Builder::new()
        .name("gui-thread".into())
        .spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lp.call_soon(|| {});
            }))
            .unwrap_err()
        })
        .unwrap()
        .join()
        .unwrap();
    let msg = err.downcast_ref::<String>().unwrap();
    assert_wrong_thread_message(
        msg,
        "LoopHandle::call_soon",
        0,
        "loopwork-loop-0",
        "gui-thread",
    );
    rt.close();
}

#[test]
fn debug_mode_call_soon_from_a_stolen_task_panics_with_every_part() {
    common::within(60, "stolen-msg", || {
        let rt = debug_runtime(2);
        let (tx, rx) = mpsc::channel::<String>();
        let (home, msg) = rt
            .block_on(rt.handle().spawn(async move {
                let home = loopwork::current_loop();
                let h2 = home.clone();
                loopwork::spawn(async move {
                    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        h2.call_soon(|| {});
                    }))
                    .map(|_| "no panic".to_owned())
                    .unwrap_or_else(|e| e.downcast_ref::<String>().unwrap().clone());
                    tx.send(err).unwrap();
                })
                .detach();
                let msg = rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the task was not stolen");
                (home.thread_name().to_owned(), msg)
            }))
            .unwrap();
        let other = if home.ends_with('0') {
            "loopwork-loop-1"
        } else {
            "loopwork-loop-0"
        };
        let home_id: usize = home.rsplit('-').next().unwrap().parse().unwrap();
        assert_wrong_thread_message(&msg, "LoopHandle::call_soon", home_id, &home, other);
        assert!(
            msg.contains("stolen"),
            "explains the stolen-task hazard: {msg}"
        );
        rt.close();
    });
}

#[test]
fn production_wrong_thread_call_soon_works_and_is_counted() {
    let rt = common::runtime(1);
    let lp = rt.loop_handle(0);
    let (tx, rx) = mpsc::channel();
    let before = rt.metrics().wrong_thread_calls;
    let h = lp.call_soon(move || {
        tx.send(std::thread::current().name().unwrap().to_owned())
            .unwrap()
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "loopwork-loop-0"
    );
    assert!(!h.cancel(), "already ran");
    let (tx2, rx2) = mpsc::channel();
    lp.call_later(Duration::from_millis(1), move || tx2.send(()).unwrap());
    rx2.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(rt.metrics().wrong_thread_calls, before + 2);
    rt.close();
}

#[test]
fn local_get_works_on_the_owner_and_fails_elsewhere_in_every_mode() {
    for debug in [false, true] {
        let rt = loopwork::Runtime::builder()
            .loops(1)
            .debug(debug)
            .build()
            .unwrap();
        let local = rt
            .loop_handle(0)
            .spawn_local_threadsafe(|| async {
                let l = loopwork::handoff::Local::new(std::rc::Rc::new(41));
                assert_eq!(**l.get() + 1, 42);
                l
            })
            .result()
            .unwrap();
        let err = local.try_get().unwrap_err();
        assert_eq!(err.owner, "loopwork-loop-0");
        assert_eq!(err.caller, std::thread::current().name().unwrap());
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = local.get();
        }))
        .unwrap_err();
        let msg = p.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("loopwork-loop-0") && msg.contains("call_soon_threadsafe"),
            "{msg}"
        );
        drop(local);
        rt.close();
    }
}

/// `!Send` (through the marker), records the thread that drops it.
struct RecordDropThread(
    std::marker::PhantomData<std::rc::Rc<()>>,
    Arc<std::sync::Mutex<Option<ThreadId>>>,
);

impl Drop for RecordDropThread {
    fn drop(&mut self) {
        *self.1.lock().unwrap() = Some(std::thread::current().id());
    }
}

#[test]
fn a_local_dropped_on_a_foreign_thread_is_dropped_on_its_owner() {
    let rt = common::runtime(1);
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let d = dropped_on.clone();
    let (local, owner) = rt
        .loop_handle(0)
        .spawn_local_threadsafe(move || async move {
            (
                loopwork::handoff::Local::new(RecordDropThread(std::marker::PhantomData, d)),
                std::thread::current().id(),
            )
        })
        .result()
        .unwrap();
    std::thread::spawn(move || drop(local)).join().unwrap();
    // The drop is sent home: wait for the loop to have processed its inbox.
    rt.loop_handle(0)
        .run_coroutine_threadsafe(async {})
        .result()
        .unwrap();
    assert_eq!(
        *dropped_on.lock().unwrap(),
        Some(owner),
        "dropped off its owner thread"
    );
    rt.close();
}

#[test]
fn a_local_dropped_after_its_loop_closed_is_leaked_not_dropped_elsewhere() {
    let rt = common::runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let local = rt
        .loop_handle(0)
        .spawn_local_threadsafe(move || async move {
            loopwork::handoff::Local::new(common::DropFlag(d))
        })
        .result()
        .unwrap();
    rt.close();
    drop(local);
    assert_eq!(
        drops.load(SeqCst),
        0,
        "a Local's value was dropped off its owner thread"
    );
}

/// A `Send` task polled first on one loop, then woken from a foreign thread
/// while that loop is held by a callback, so the other loop runs its next
/// poll; there it calls `call_soon` on the loop it remembered. Returns the
/// task's result, the remembered loop, its thread and the thread of the
/// second poll. `call` runs in the second poll.
fn stolen_between_polls<R: Send + 'static>(
    rt: &loopwork::Runtime,
    call: impl FnOnce(&loopwork::runtime::LoopHandle) -> R + Send + 'static,
) -> (
    Result<R, loopwork::TaskError>,
    loopwork::runtime::LoopHandle,
    String,
    String,
) {
    let (promise, woken) = loopwork::handoff::promise::<()>();
    let (first_tx, first) = mpsc::channel();
    let task = rt.handle().spawn(async move {
        let home = loopwork::current_loop();
        first_tx.send(home.clone()).unwrap();
        woken.await.unwrap();
        let second = std::thread::current().name().unwrap().to_owned();
        (call(&home), second)
    });
    let home = first.recv_timeout(Duration::from_secs(30)).unwrap();
    // Hold the first loop, so the wake-up (from this foreign thread, through
    // the injector) can only be taken by the other one.
    let (entered_tx, entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    home.call_soon_threadsafe(move || {
        entered_tx.send(()).unwrap();
        released.recv_timeout(Duration::from_secs(60)).unwrap();
    })
    .unwrap();
    entered.recv_timeout(Duration::from_secs(30)).unwrap();
    promise.set_result(()).unwrap();
    let out = rt.block_on(task);
    release.send(()).unwrap();
    let home_thread = home.thread_name().to_owned();
    match out {
        Ok((r, second)) => (Ok(r), home, home_thread, second),
        Err(e) => {
            let other = rt.loop_handle(1 - home.id()).thread_name().to_owned();
            (Err(e), home, home_thread, other)
        }
    }
}

#[test]
fn debug_mode_a_task_stolen_between_polls_calling_call_soon_panics_with_the_full_message() {
    common::within(60, "stolen-between-polls", || {
        let rt = debug_runtime(2);
        let (out, home, home_thread, other) = stolen_between_polls(&rt, |home| {
            home.call_soon(|| {});
        });
        let err = out.expect_err("call_soon off its loop panics in debug mode");
        // The task's error keeps the whole panic message.
        let msg = err.to_string();
        assert_wrong_thread_message(
            &msg,
            "LoopHandle::call_soon",
            home.id(),
            &home_thread,
            &other,
        );
        assert!(
            msg.contains("stolen"),
            "explains the stolen-task hazard: {msg}"
        );
        rt.close();
    });
}

#[test]
fn production_a_task_stolen_between_polls_calling_call_soon_is_routed_and_counted() {
    common::within(60, "stolen-between-polls-prod", || {
        let rt = common::runtime(2);
        let (ran_tx, ran) = mpsc::channel();
        let (out, home, home_thread, second) = stolen_between_polls(&rt, move |home| {
            home.call_soon(move || {
                ran_tx
                    .send(std::thread::current().name().unwrap().to_owned())
                    .unwrap()
            });
        });
        out.expect("production routes the call through the thread-safe path");
        assert_ne!(second, home_thread, "the second poll ran on the other loop");
        assert_eq!(
            ran.recv_timeout(Duration::from_secs(30)).unwrap(),
            home_thread,
            "the callback ran on its loop"
        );
        let m = rt.metrics();
        assert_eq!(m.loops[home.id()].wrong_thread_calls, 1, "{m:?}");
        assert_eq!(m.loops[1 - home.id()].wrong_thread_calls, 0, "{m:?}");
        assert_eq!(m.wrong_thread_calls, 1);
        rt.close();
    });
}
