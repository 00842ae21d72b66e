//! A panicking task never takes its loop down.

mod common;

#[test]
fn a_panicking_task_reports_panicked_with_the_message() {
    let rt = common::runtime(1);
    let err = rt.block_on(async {
        loopwork::spawn(async { panic!("kaboom {}", 7) })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "task panicked: kaboom 7");
    assert_eq!(err.into_panic().unwrap().message(), "kaboom 7");
    rt.close();
}

#[test]
fn the_loop_keeps_serving_after_panics() {
    common::within(60, "panic-serve", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            for i in 0..100 {
                let bad = loopwork::spawn(async move {
                    if i % 2 == 0 {
                        panic!("task {i}");
                    }
                    i
                });
                let local = loopwork::spawn(async move {
                    loopwork::spawn_local(async move {
                        if i % 3 == 0 {
                            panic!("local {i}");
                        }
                    })
                    .await
                });
                match bad.await {
                    Ok(v) => assert_eq!(v, i),
                    Err(e) => assert!(e.is_panic() && i % 2 == 0),
                }
                assert_eq!(local.await.unwrap().is_err(), i % 3 == 0);
            }
            // The single loop is still alive and serving.
            assert_eq!(loopwork::spawn(async { 1 }).await.unwrap(), 1);
        });
        rt.close();
    });
}

#[test]
fn a_panic_payload_can_be_resumed() {
    let rt = common::runtime(1);
    let err = rt.block_on(async {
        loopwork::spawn(async { std::panic::panic_any(17u32) })
            .await
            .unwrap_err()
    });
    let payload = err.into_panic().unwrap().into_payload();
    assert_eq!(*payload.downcast::<u32>().unwrap(), 17);
    rt.close();
}
