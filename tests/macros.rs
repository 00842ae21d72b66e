//! `#[loopwork::main]` and `#[loopwork::test]` as users write them; the
//! errors they report for bad input are checked by `tests/macros_ui.rs`.

use loopwork::{runtime::Handle, TaskError};

#[loopwork::test]
async fn a_test_body_runs_as_a_future_of_a_fresh_runtime() {
    let handle = Handle::try_current().expect("the body runs inside a runtime");
    assert!(!handle.is_closed());
    assert_eq!(loopwork::spawn(async { 6 * 7 }).await.unwrap(), 42);
}

#[loopwork::test(loops = 3)]
async fn loops_option_sets_the_number_of_loops() {
    assert_eq!(Handle::try_current().unwrap().loops(), 3);
}

/// In debug mode a blocking wait on a loop thread panics; outside it only
/// warns. A task tries one, and its outcome tells which mode is on.
async fn blocking_wait_on_a_loop_panics() -> bool {
    let task = loopwork::spawn(async {
        Handle::try_current().unwrap().block_on(async {});
    });
    match task.await {
        Ok(()) => false,
        Err(TaskError::Panicked(p)) => {
            let msg = p.message();
            assert!(msg.contains("blocking wait on a loop thread"), "{msg}");
            true
        }
        Err(e) => panic!("the probe task ended with {e}"),
    }
}

#[loopwork::test(debug = true)]
async fn debug_true_turns_debug_mode_on() {
    assert!(blocking_wait_on_a_loop_panics().await);
}

#[loopwork::test(loops = 1, debug = false)]
async fn debug_false_turns_debug_mode_off_whatever_the_environment_says() {
    assert!(!blocking_wait_on_a_loop_panics().await);
}

#[loopwork::test]
async fn a_result_return_type_passes_through_and_question_mark_works() -> Result<(), std::io::Error>
{
    let listener = loopwork::net::TcpListener::bind("127.0.0.1:0").await?;
    assert_ne!(listener.local_addr()?.port(), 0);
    Ok(())
}

#[loopwork::test]
#[should_panic(expected = "the body's own panic")]
async fn a_panic_in_the_body_fails_the_test_and_other_attributes_pass_through() {
    loopwork::yield_now().await;
    panic!("the body's own panic");
}

#[loopwork::test]
async fn return_in_the_body_returns_from_the_test() {
    if Handle::try_current().is_some() {
        return;
    }
    unreachable!("the early return above ends the body");
}
