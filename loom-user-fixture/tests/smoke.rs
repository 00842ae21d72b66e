use std::time::Duration;

#[test]
fn spawn_and_join() {
    loom::model(|| {
        let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
        let h = rt.handle();
        let t = h.spawn(async { 1 + 1 });
        assert_eq!(h.block_on(t).unwrap(), 2);
        rt.close();
    });
}

#[test]
fn sleep_is_virtual() {
    loom::model(|| {
        let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
        let h = rt.handle();
        let t = h.spawn(async {
            loopwork::sleep(Duration::from_secs(3600)).await;
            7
        });
        assert_eq!(h.block_on(t).unwrap(), 7);
        rt.close();
    });
}
