//! Debug mode's watchdog: a task that blocks its loop is reported *while*
//! it blocks, with what it is, where it was spawned, what waits for the
//! loop, and the loop's last scheduling events; then once more when the
//! loop runs again. See the guide's "Loop blocked right now".
//!
//! ```text
//! cargo run --example loop_blocked
//! ```

use std::io::Write;
use std::time::Duration;

fn main() {
    env_logger::Builder::new()
        .filter(Some("loopwork"), log::LevelFilter::Info)
        .format(|f, r| writeln!(f, "[{} {}] {}", r.level(), r.target(), r.args()))
        .init();
    let rt = loopwork::Runtime::builder()
        .loops(2)
        .debug(true)
        .watchdog_threshold(Duration::from_millis(200))
        .build()
        .unwrap();
    let work = rt.loop_handle(0).spawn_local_threadsafe(|| async {
        loopwork::task::Builder::new()
            .name("resize-images")
            .spawn_local(async {
                // Queued on loop 0: the Send tasks may be stolen by loop 1,
                // the pinned one can only wait for loop 0.
                let helpers: Vec<_> = (0..3).map(|i| loopwork::spawn(async move { i })).collect();
                let pinned = loopwork::spawn_local(async {});
                // A blocking call inside a task: it holds loop 0.
                std::thread::sleep(Duration::from_millis(500));
                for h in helpers {
                    h.await.unwrap();
                }
                pinned.await.unwrap();
            })
            .await
            .unwrap();
    });
    work.result().unwrap();
    rt.close();
}
