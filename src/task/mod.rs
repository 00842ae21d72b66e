//! Tasks: the raw task, its state word, wakers and the `Task` join handle.
//!
//! A task is one allocation (see `raw.rs`) reached through
//! reference-counted handles:
//!
//! * `Notified`: "this task should be polled"; lives in exactly one queue. At
//!   most one exists per task at a time (the `NOTIFIED` bit), so one wake never
//!   causes two polls.
//! * [`Task<T>`]: the join handle; awaiting it reads the output.
//! * `Waker`s: a reference each; waking turns the reference into a `Notified`
//!   when the task is idle, and hands it to the task's `Schedule` hook.
//! * the owning loop's registry: one reference, released once the task is
//!   complete, so shutdown can reach every pending task;
//! * the task directory: one reference, released in a sweep after the task
//!   completes (see `directory.rs`), so diagnostics on any thread can
//!   enumerate every live task (`trace.rs` holds what they read beyond the
//!   statistics: age, the leaf a task waits on, its awaiter).
//!
//! Nothing on the spawn → wake → poll path takes a lock: spawning is one
//! allocation plus a queue push, waking one CAS on the state word plus a push.

mod builder;
pub(crate) mod coop;
pub(crate) mod directory;
mod error;
pub(crate) mod frame;
mod info;
mod join;
mod raw;
pub(crate) mod state;
mod stats;
pub(crate) mod trace;
mod yield_now;

pub use builder::Builder;
pub(crate) use error::panic_message;
pub use error::{Panic, TaskError};
pub use frame::{frame, Frame};
pub use info::{TaskInfo, TaskState};
pub(crate) use join::CancelScope;
pub use join::Task;
pub(crate) use raw::{Header, RawTask};
pub use yield_now::{yield_now, YieldNow};

use crate::sync::atomic::{AtomicU64, Ordering};
use std::fmt;
use std::panic::Location;

/// Where a woken task goes. Implemented by the runtime's schedulers (and by
/// the loom models' test scheduler).
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Submits a task that was woken while idle.
    fn schedule(&self, task: Notified);

    /// Resubmits a task that was woken during its own poll (it yielded).
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }

    /// Called on the polling thread right before each poll, while the task
    /// is `RUNNING` (so `RawTask::mark_registered` may be used).
    fn before_poll(&self, _task: RawTask) {}

    /// Called on the polling thread right after each poll (even if it
    /// panicked), still while the task is `RUNNING`; `pending` says the
    /// future returned `Poll::Pending`.
    fn after_poll(&self, _task: RawTask, _pending: bool) {}

    /// The runtime's shutdown is destroying this task, which is pending:
    /// nobody cancelled it and it is not a background task. The runtime's
    /// schedulers report it (see `debug::DestroyedPending`).
    fn destroyed_pending(&self, _task: RawTask) {}

    /// The runtime whose task directory lists tasks of this scheduler
    /// (`directory::Owner`); 0: not listed.
    fn owner(&self) -> directory::Owner {
        0
    }
    /// Called on the polling thread when a poll panicked, before
    /// `after_poll` (debug mode's flight recorder reports what led to it).
    fn poll_panicked(&self, _task: RawTask, _payload: &(dyn std::any::Any + Send)) {}
}

/// A task that should be polled; owns one reference.
pub(crate) struct Notified(RawTask);

impl Notified {
    pub(crate) fn from_raw(raw: RawTask) -> Notified {
        Notified(raw)
    }

    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    #[cfg_attr(not(loopwork_loom), allow(dead_code))]
    pub(crate) fn raw(&self) -> RawTask {
        self.0
    }

    /// Polls the task (or carries out its cancellation).
    pub(crate) fn run(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.poll();
    }

    /// Cancels the task in place: its future is dropped on this thread unless
    /// it is running elsewhere, in which case its poller cancels it.
    pub(crate) fn shutdown(self) {
        self.0.shutdown();
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        self.0.drop_reference();
    }
}

impl fmt::Debug for Notified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.header(), f)
    }
}

/// Creates a task: the `Notified` to schedule first and the join handle.
pub(crate) fn new_task<F, S>(future: F, scheduler: S, meta: TaskMeta) -> (Notified, Task<F::Output>)
where
    F: std::future::Future + 'static,
    S: Schedule,
{
    let owner = scheduler.owner();
    let listed = cfg!(not(loopwork_loom)) && owner != 0;
    let raw = RawTask::new(future, scheduler, meta, listed);
    if listed {
        directory::insert(raw, owner);
    }
    (Notified(raw), Task::from_raw(raw))
}

/// A task's identity, unique within the process.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let a = loopwork::spawn(async {});
///     let b = loopwork::spawn(async {});
///     assert_ne!(a.id(), b.id());
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TaskId(u64);

impl TaskId {
    /// Ids are handed out in blocks of `ID_BLOCK` per thread, so spawning
    /// threads do not all hit one shared counter.
    #[cfg(not(loopwork_loom))]
    pub(crate) fn next() -> TaskId {
        use std::cell::Cell;
        const ID_BLOCK: u64 = 1024;
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        thread_local! {
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        RANGE
            .try_with(|r| {
                let (mut next, mut end) = r.get();
                if next == end {
                    next = NEXT_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
                    end = next + ID_BLOCK;
                }
                r.set((next + 1, end));
                TaskId(next)
            })
            // During thread teardown: take a single id.
            .unwrap_or_else(|_| TaskId(NEXT_BLOCK.fetch_add(1, Ordering::Relaxed)))
    }

    #[cfg(loopwork_loom)]
    pub(crate) fn next() -> TaskId {
        loom::lazy_static! { static ref NEXT: AtomicU64 = AtomicU64::new(1); }
        TaskId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub(crate) fn from_u64(id: u64) -> TaskId {
        TaskId(id)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a task may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskKind {
    /// `Send`, may be stolen by any loop of its runtime.
    Stealable,
    /// `!Send` (or asked to stay): polled only on the given loop.
    Pinned(usize),
    /// A job on the blocking pool.
    Blocking,
}

const KIND_STEALABLE: u8 = 0;
const KIND_PINNED: u8 = 1;
const KIND_BLOCKING: u8 = 2;

/// What diagnostics say about a task: id, name, spawn site, kind, flags.
///
/// Packed, since every task carries it: the name and the error reporter of
/// `spawn_fallible` share one thin pointer (only tasks that have one of them pay for it), the kind is a tag
/// and a loop index, and the flags and the registry flag (see `raw.rs`) sit
/// in what would be padding. 32 bytes.
pub(crate) struct TaskMeta {
    pub(crate) id: TaskId,
    extra: Option<Box<Extra>>,
    pub(crate) location: &'static Location<'static>,
    owner: u32,
    kind: u8,
    /// `FLAG_*` bits, set before the task is first scheduled, then read-only.
    flags: u8,
    /// Whether a loop's registry holds the task. Touched only while the
    /// task is `RUNNING` (see `RawTask::mark_registered`).
    pub(crate) registered: crate::sync::UnsafeCell<bool>,
    /// Where and how much the task has run (see `stats.rs`).
    pub(crate) stats: stats::TaskStats,
}

/// The task's destruction at shutdown is expected (`Builder::background`).
const FLAG_BACKGROUND: u8 = 1;
/// Spawned in debug mode: its site's spawn backtrace exists (see
/// `debug::backtrace::note_site`).
const FLAG_TRACED: u8 = 2;

/// Renders the `Err` of a finished task's output, or `None` for `Ok`.
///
/// # Safety
/// The pointer must point to the output type the function was made for
/// (`spawn_fallible` makes it for the task's own output type).
pub(crate) type DescribeErr = unsafe fn(*const ()) -> Option<String>;

/// The optional, rarer parts of a task's metadata.
#[derive(Default)]
struct Extra {
    name: Option<Box<str>>,
    /// `spawn_fallible`: reports an `Err` output nobody retrieved.
    describe_err: Option<DescribeErr>,
}

impl TaskMeta {
    pub(crate) fn new(
        name: Option<Box<str>>,
        location: &'static Location<'static>,
        kind: TaskKind,
    ) -> TaskMeta {
        let (kind, owner) = match kind {
            TaskKind::Stealable => (KIND_STEALABLE, 0),
            TaskKind::Pinned(i) => (KIND_PINNED, u32::try_from(i).expect("loop index fits u32")),
            TaskKind::Blocking => (KIND_BLOCKING, 0),
        };
        TaskMeta {
            id: TaskId::next(),
            extra: name.map(|name| {
                Box::new(Extra {
                    name: Some(name),
                    ..Extra::default()
                })
            }),
            location,
            owner,
            kind,
            flags: 0,
            registered: crate::sync::UnsafeCell::new(false),
            stats: stats::TaskStats::new(),
        }
    }

    /// The metadata of a task spawned through `builder` (consumed: its
    /// name moves in); `debug`: the spawning runtime is in debug mode, so
    /// the spawn backtrace is captured.
    pub(crate) fn with_options(
        builder: Builder,
        location: &'static Location<'static>,
        kind: TaskKind,
        debug: bool,
    ) -> TaskMeta {
        let mut meta = TaskMeta::new(builder.name, location, kind);
        if builder.background {
            meta.flags |= FLAG_BACKGROUND;
        }
        if debug {
            crate::debug::backtrace::note_site(location);
            meta.flags |= FLAG_TRACED;
        }
        if builder.describe_err.is_some() {
            meta.extra.get_or_insert_with(Box::default).describe_err = builder.describe_err;
        }
        meta
    }

    pub(crate) fn kind(&self) -> TaskKind {
        match self.kind {
            KIND_PINNED => TaskKind::Pinned(self.owner as usize),
            KIND_BLOCKING => TaskKind::Blocking,
            _ => TaskKind::Stealable,
        }
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.extra.as_deref()?.name.as_deref()
    }

    /// Debug mode: the spawn backtrace.
    pub(crate) fn trace(&self) -> Option<std::sync::Arc<crate::debug::Trace>> {
        if self.flags & FLAG_TRACED == 0 {
            return None;
        }
        crate::debug::backtrace::trace_of(self.location)
    }

    /// Whether the task was spawned as a background task.
    pub(crate) fn is_background(&self) -> bool {
        self.flags & FLAG_BACKGROUND != 0
    }

    /// The `Err` reporter of `spawn_fallible`.
    pub(crate) fn describe_err(&self) -> Option<DescribeErr> {
        self.extra.as_deref()?.describe_err
    }
}

/// `name='fetch' id=7 spawned at src/main.rs:10:5 on loop 1`: the repr of
/// a task without its state (see `Header`'s `Display` for the full one).
impl fmt::Display for TaskMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            write!(f, "name='{name}' ")?;
        }
        write!(f, "id={} spawned at {}", self.id, self.location)?;
        match self.kind() {
            TaskKind::Stealable => match self.stats.last_loop() {
                Some(i) => write!(f, " on loop {i}"),
                None => Ok(()),
            },
            TaskKind::Pinned(i) => write!(f, " pinned to loop {i}"),
            TaskKind::Blocking => f.write_str(" on the blocking pool"),
        }
    }
}

/// `<Task pending name='fetch' id=7 spawned at src/main.rs:10:5 on loop 1>`,
/// asyncio-style. The state comes from the state word: `pending` (waiting
/// for a wake-up), `scheduled` (woken, in a queue), `running` (being
/// polled), `finished`, or `cancelled` (cancellation requested, or finished
/// by it).
impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Task {} {}>", self.state_name(), self.meta)
    }
}

impl Header {
    /// The repr with `state` in place of the state word's (a report made
    /// while the runtime is already changing the state, e.g. at shutdown).
    pub(crate) fn repr_as(&self, state: &'static str) -> impl fmt::Display + '_ {
        struct Repr<'a>(&'a TaskMeta, &'static str);
        impl fmt::Display for Repr<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "<Task {} {}>", self.1, self.0)
            }
        }
        Repr(&self.meta, state)
    }

    fn state_name(&self) -> &'static str {
        let s = self.state.load();
        if s.is_cancelled() {
            "cancelled"
        } else if s.is_complete() {
            "finished"
        } else if s.is_running() {
            "running"
        } else if s.is_notified() {
            "scheduled"
        } else {
            "pending"
        }
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    /// A scheduler that only collects what it is handed.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<Notified>>>);

    impl Schedule for Collect {
        fn schedule(&self, task: Notified) {
            self.0.lock().unwrap().push(task);
        }
    }

    fn meta(kind: TaskKind) -> TaskMeta {
        TaskMeta::new(Some("t".into()), Location::caller(), kind)
    }

    #[test]
    fn task_ids_taken_on_two_threads_never_collide() {
        // Each thread takes ids from blocks of its own: more than a few
        // blocks each, so overlapping blocks would repeat an id.
        let take = || {
            std::thread::spawn(|| {
                (0..20_000)
                    .map(|_| TaskId::next().as_u64())
                    .collect::<Vec<_>>()
            })
        };
        let (a, b) = (take(), take());
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "an id was handed out twice");
    }

    #[test]
    fn a_task_id_displays_as_its_number() {
        assert_eq!(TaskId::from_u64(42).to_string(), "42");
    }

    #[test]
    fn a_blocking_meta_reads_back_as_blocking() {
        assert_eq!(meta(TaskKind::Blocking).kind(), TaskKind::Blocking);
        assert_eq!(meta(TaskKind::Pinned(3)).kind(), TaskKind::Pinned(3));
        assert_eq!(meta(TaskKind::Stealable).kind(), TaskKind::Stealable);
    }

    #[test]
    fn only_a_task_spawned_in_debug_mode_reports_its_sites_backtrace() {
        let site = Location::caller();
        // The site has a backtrace (as if an earlier task made there was
        // spawned in debug mode) ...
        crate::debug::backtrace::note_site(site);
        assert!(crate::debug::backtrace::trace_of(site).is_some());
        // ... but a task spawned in production mode does not show it.
        let quiet = TaskMeta::with_options(Builder::new(), site, TaskKind::Stealable, false);
        assert!(quiet.trace().is_none());
        let traced = TaskMeta::with_options(Builder::new(), site, TaskKind::Stealable, true);
        assert!(traced.trace().is_some());
    }

    #[test]
    fn the_default_yield_now_resubmits_through_schedule() {
        let sched = Collect::default();
        let (n, _task) = new_task(async {}, sched.clone(), meta(TaskKind::Stealable));
        Schedule::yield_now(&sched, n);
        assert_eq!(
            sched.0.lock().unwrap().len(),
            1,
            "the yielded task was lost"
        );
        sched.0.lock().unwrap().clear();
    }

    #[test]
    fn dropping_the_last_notified_frees_the_task_and_its_future() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let (n, task) = new_task(
            async move {
                let _flag = flag;
            },
            Collect::default(),
            meta(TaskKind::Stealable),
        );
        drop(task);
        assert!(
            !dropped.load(Ordering::SeqCst),
            "the Notified still holds it"
        );
        drop(n);
        assert!(dropped.load(Ordering::SeqCst), "the task was never freed");
    }

    /// A joiner's waker that counts its wakes and, if it holds the join
    /// handle, drops it when woken (from inside the task's completion).
    #[derive(Default)]
    struct Joiner {
        wakes: std::sync::atomic::AtomicUsize,
        handle: Mutex<Option<Task<()>>>,
    }

    impl std::task::Wake for Joiner {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            drop(self.handle.lock().unwrap().take());
        }
    }

    /// Polls `task` once with `joiner`'s waker: it must be pending.
    fn register(task: &mut Task<()>, joiner: &Arc<Joiner>) {
        let waker = std::task::Waker::from(joiner.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(std::future::Future::poll(std::pin::Pin::new(task), &mut cx).is_pending());
    }

    #[test]
    fn a_join_handle_dropped_before_its_task_completes_lets_go_of_the_joiners_waker() {
        let (n, mut task) = new_task(
            std::future::pending::<()>(),
            Collect::default(),
            meta(TaskKind::Stealable),
        );
        let joiner = Arc::new(Joiner::default());
        register(&mut task, &joiner);
        assert_eq!(Arc::strong_count(&joiner), 2, "the task holds the waker");
        drop(task);
        assert_eq!(
            Arc::strong_count(&joiner),
            1,
            "the pending task (still alive: its Notified) kept the waker of a joiner that left"
        );
        drop(n);
    }

    #[test]
    fn a_completed_task_lets_go_of_the_joiners_waker_once_both_are_done() {
        // The handle read the output, then is dropped: it empties the slot.
        let (n, mut task) = new_task(async {}, Collect::default(), meta(TaskKind::Stealable));
        let joiner = Arc::new(Joiner::default());
        register(&mut task, &joiner);
        let keep = n.0.waker(); // keeps the task alive past both sides
        n.run();
        assert_eq!(joiner.wakes.load(Ordering::SeqCst), 1);
        drop(task);
        assert_eq!(
            Arc::strong_count(&joiner),
            1,
            "the handle left the waker in the slot"
        );
        drop(keep);

        // The handle is dropped while the task completes (by the wake
        // itself): the completion empties the slot.
        let (n, mut task) = new_task(async {}, Collect::default(), meta(TaskKind::Stealable));
        let joiner = Arc::new(Joiner::default());
        register(&mut task, &joiner);
        *joiner.handle.lock().unwrap() = Some(task);
        let keep = n.0.waker();
        n.run();
        assert_eq!(joiner.wakes.load(Ordering::SeqCst), 1);
        assert!(
            joiner.handle.lock().unwrap().is_none(),
            "the wake dropped the handle"
        );
        assert_eq!(
            Arc::strong_count(&joiner),
            1,
            "the completed task kept the waker of a joiner that left during its wake"
        );
        drop(keep);
    }

    #[test]
    fn a_notified_task_debugs_as_its_repr() {
        let (n, _task) = new_task(async {}, Collect::default(), meta(TaskKind::Stealable));
        let repr = format!("{n:?}");
        let id = format!("id={}", n.header().meta.id);
        assert!(
            repr.starts_with("<Task") && repr.contains("name='t'"),
            "{repr}"
        );
        assert!(repr.contains(&id), "{repr}");
    }
}
