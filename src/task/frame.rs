//! `frame(name, fut)`: a named await point, drawn in the await-graph dump
//! between the task and what it waits on (as the `await-tree` crate does).
//!
//! Opt-in, so its cost is paid only where it is used: a frame registers
//! itself in a process-wide table (one short lock) at its first poll inside
//! a task, and leaves it when it completes or is dropped. Frames of a task
//! are listed outermost first: an outer frame's first poll happens before
//! the inner one's.
//!
//! Invariant: the table holds only `'static` data (names, locations) and
//! task ids, so a dump on any thread reads it under the lock with no
//! lifetime concern.

use super::trace;
use crate::sync::Mutex;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};

/// One registered frame: (frame id, task id, name, where `frame` was called).
type Entry = (u64, u64, &'static str, &'static Location<'static>);

#[cfg(not(loopwork_loom))]
static FRAMES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Names an await point: while `fut` is pending inside a task, the task
/// tree ([`Runtime::task_tree`](crate::Runtime::task_tree)) shows
/// `frame 'name' at src/x.rs:3:5` under the task, above what `fut` waits on.
/// Frames nest. Outside a task (a `block_on` future) it only awaits `fut`.
///
/// Cost: one short global lock at the frame's first poll and one when it
/// ends; nothing per poll. Use it for the few await points a hang report
/// should name, not around every call.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let (_keep, never) = loopwork::handoff::promise::<()>();
/// let t = rt.handle().spawn(loopwork::task::frame("load user", never));
/// while !rt.task_tree().to_string().contains("frame 'load user'") {
///     std::thread::yield_now();
/// }
/// println!("{}", rt.task_tree());
/// t.cancel();
/// rt.close();
/// ```
#[track_caller]
pub fn frame<F: Future>(name: &'static str, fut: F) -> Frame<F> {
    Frame {
        fut,
        name,
        location: Location::caller(),
        id: 0,
    }
}

/// The future of [`frame`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Frame<F> {
    fut: F,
    name: &'static str,
    location: &'static Location<'static>,
    /// 0 until registered.
    id: u64,
}

impl<F: Future> Future for Frame<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned (never moved out); the other
        // fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        if this.id == 0 {
            this.id = register(this.name, this.location);
        }
        // SAFETY: as above.
        let res = unsafe { Pin::new_unchecked(&mut this.fut) }.poll(cx);
        if res.is_ready() {
            unregister(std::mem::replace(&mut this.id, u64::MAX));
        }
        res
    }
}

impl<F> Drop for Frame<F> {
    fn drop(&mut self) {
        if self.id != 0 {
            unregister(self.id);
        }
    }
}

/// Registers a frame of the current task; its id (`u64::MAX`: no task here).
fn register(name: &'static str, location: &'static Location<'static>) -> u64 {
    let task = trace::current_task_id();
    if task == 0 {
        return u64::MAX;
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Relaxed);
    #[cfg(not(loopwork_loom))]
    FRAMES.lock().push((id, task, name, location));
    #[cfg(loopwork_loom)]
    let _ = (name, location);
    id
}

#[cfg_attr(loopwork_loom, allow(unused_variables))]
fn unregister(id: u64) {
    #[cfg(not(loopwork_loom))]
    if id != u64::MAX {
        let mut frames = FRAMES.lock();
        if let Some(i) = frames.iter().position(|e| e.0 == id) {
            frames.remove(i);
        }
    }
}

/// The frames of task `task`, outermost first: (name, location). Under
/// loom none is recorded (the graph is off).
pub(crate) fn frames_of(task: u64) -> Vec<(&'static str, &'static Location<'static>)> {
    #[cfg(loopwork_loom)]
    {
        let _ = task;
        Vec::new()
    }
    #[cfg(not(loopwork_loom))]
    FRAMES
        .lock()
        .iter()
        .filter(|e| e.1 == task)
        .map(|e| (e.2, e.3))
        .collect()
}
