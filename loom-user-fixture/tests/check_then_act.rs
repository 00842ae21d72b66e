//! Model 1: a task and a foreign thread each check a shared flag and, if it
//! is clear, initialise something: the task on the loop, the thread by
//! handing the initialisation to the loop with `call_soon_threadsafe`.
//! Check-then-act with two loads and stores lets both pass the check.
mod common;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;

/// One model, buggy (`load` then `store`) or fixed (`swap`, one atomic step).
fn init_once(fixed: bool) {
    let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    let handle = rt.handle();
    let flag = Arc::new(AtomicBool::new(false));
    let inits = Arc::new(AtomicUsize::new(0));

    // Claims the right to initialise.
    let claim = move |flag: &AtomicBool| {
        if fixed {
            !flag.swap(true, SeqCst)
        } else if !flag.load(SeqCst) {
            flag.store(true, SeqCst);
            true
        } else {
            false
        }
    };

    let task = {
        let (flag, inits) = (flag.clone(), inits.clone());
        handle.spawn(async move {
            if claim(&flag) {
                inits.fetch_add(1, SeqCst);
            }
        })
    };

    let thread = {
        let (flag, inits) = (flag.clone(), inits.clone());
        let lh = rt.loop_handle(0);
        let handle = handle.clone();
        loom::thread::spawn(move || {
            if claim(&flag) {
                // The initialisation runs on the loop; wait until it has.
                let (done, ran) = loopwork::handoff::promise::<()>();
                lh.call_soon_threadsafe(move || {
                    inits.fetch_add(1, SeqCst);
                    done.set_result(()).unwrap();
                })
                .unwrap();
                handle.block_on(ran).unwrap();
            }
        })
    };

    handle.block_on(task).unwrap();
    thread.join().unwrap();
    assert_eq!(
        inits.load(SeqCst),
        1,
        "initialised twice: the check and the act on `flag` are two steps"
    );
    rt.close();
}

#[test]
fn check_then_act_on_a_shared_flag_initialises_twice() {
    let msg = common::model_fails(|| init_once(false));
    assert!(
        msg.contains("initialised twice"),
        "unexpected failure: {msg}"
    );
}

#[test]
fn one_atomic_swap_initialises_once() {
    loom::model(|| init_once(true));
}
