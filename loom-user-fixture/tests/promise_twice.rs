//! Model 2: a `Promise` completed from two places. A request is answered
//! by a worker thread, or by a timeout callback on the loop
//! (`call_later`), whichever comes first; both complete the same promise.
//! The buggy form assumes each completer is the only one (`expect` on
//! `set_result`); the fixed form treats `AlreadySet` as "the other side
//! won", and the awaiting task sees exactly one answer.
mod common;

use loopwork::handoff::{promise, InvalidState};
use std::sync::Arc;
use std::time::Duration;

fn reply_or_timeout(fixed: bool) {
    let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    let (answer, answered) = promise::<&'static str>();
    let answer = Arc::new(answer);

    // Completes the promise; in the fixed form, losing the race is fine.
    let complete = move |p: &loopwork::handoff::Promise<&'static str>, v| match p.set_result(v) {
        Ok(()) => {}
        Err(InvalidState::AlreadySet) if fixed => {}
        Err(e) => panic!("completing the promise with {v:?} failed: {e}"),
    };

    // The requester, on the loop: arms the timeout there (a loop-local
    // `call_later`, on virtual time: it fires only once the loop has
    // nothing else to do) and awaits the answer.
    let requester = {
        let answer = answer.clone();
        rt.loop_handle(0)
            .spawn_local_threadsafe(move || async move {
                let _timeout = loopwork::current_loop()
                    .call_later(Duration::from_secs(5), move || complete(&answer, "timeout"));
                answered.await.unwrap()
            })
    };

    // The reply, from a worker thread.
    let worker = {
        let answer = answer.clone();
        loom::thread::spawn(move || complete(&answer, "reply"))
    };

    let got = requester.result().unwrap();
    assert!(
        got == "reply" || got == "timeout",
        "unexpected answer {got:?}"
    );
    worker.join().unwrap();
    rt.close();
}

#[test]
fn a_promise_completed_from_two_places_fails_the_loser() {
    let msg = common::model_fails(|| reply_or_timeout(false));
    assert!(
        msg.contains("the result was already set"),
        "unexpected failure: {msg}"
    );
}

#[test]
fn a_promise_whose_completers_accept_losing_gives_one_answer() {
    loom::model(|| reply_or_timeout(true));
}
