//! The two `Schedule` hooks a task carries: stealable tasks and pinned tasks.
//!
//! Woken on a loop of its runtime, a stealable task goes to that loop's
//! deque (or, when it yielded, to its deferred list); woken anywhere else, to
//! the injector plus one notify. A pinned task woken on its owner goes to the
//! owner's pinned queue; anywhere else, to the owner's inbox plus the owner's
//! notify. A pinned task is never polled off its owner: always checked,
//! because soundness depends on it.

use super::shared::{InboxItem, Scheduler};
use super::worker::{with_current, LoopScheduler};
use crate::sync::Arc;
use crate::task::{Notified, RawTask, Schedule};

/// Runs `f` with the scheduler of the loop this thread runs, if any: the
/// hooks that only record what a loop did (they are called wherever the task
/// is polled or woken, on a loop of this runtime or not).
#[inline]
fn on_current_loop<I: InboxItem>(f: impl FnOnce(&LoopScheduler<I>)) {
    with_current::<I, _>(|sched| {
        if let Some(sched) = sched {
            f(sched);
        }
    });
}

/// For `Send` tasks: any loop of the runtime may poll them.
pub(crate) struct StealableScheduler<I> {
    pub(crate) shared: Arc<Scheduler<I>>,
}

impl<I: InboxItem> Schedule for StealableScheduler<I> {
    fn schedule(&self, task: Notified) {
        with_current::<I, _>(|sched| match sched {
            Some(sched) if sched.belongs_to(&self.shared) => {
                sched.record_wake(&task);
                sched.push_local(task);
            }
            _ => self.shared.push_remote(task),
        });
    }

    fn yield_now(&self, task: Notified) {
        with_current::<I, _>(|sched| match sched {
            Some(sched) if sched.belongs_to(&self.shared) => sched.defer(task),
            _ => self.shared.push_remote(task),
        });
    }

    fn before_poll(&self, task: RawTask) {
        on_current_loop::<I>(|sched| sched.before_poll(task, false));
    }

    fn after_poll(&self, task: RawTask, pending: bool) {
        on_current_loop::<I>(|sched| sched.after_poll(task, pending));
    }

    fn destroyed_pending(&self, task: RawTask) {
        self.shared.report_destroyed(task);
    }

    fn owner(&self) -> crate::task::directory::Owner {
        self.shared.directory_owner()
    }

    fn poll_panicked(&self, task: RawTask, payload: &(dyn std::any::Any + Send)) {
        on_current_loop::<I>(|sched| sched.poll_panicked(task, payload));
    }
}

/// For tasks bound to one loop (`spawn_local`): only that loop polls them.
pub(crate) struct PinnedScheduler<I> {
    pub(crate) shared: Arc<Scheduler<I>>,
    pub(crate) owner: usize,
}

impl<I: InboxItem> PinnedScheduler<I> {
    /// Runs `here` with the owner loop's scheduler when called on it.
    #[inline]
    fn on_owner<R>(&self, here: impl FnOnce(Option<&LoopScheduler<I>>) -> R) -> R {
        with_current::<I, _>(|sched| {
            here(sched.filter(|s| s.belongs_to(&self.shared) && s.index == self.owner))
        })
    }
}

impl<I: InboxItem> Schedule for PinnedScheduler<I> {
    fn schedule(&self, task: Notified) {
        self.on_owner(|owner| match owner {
            Some(owner) => {
                owner.record_wake(&task);
                owner.push_pinned(task);
            }
            None => self.shared.loops[self.owner].send(I::task(task)),
        });
    }

    fn yield_now(&self, task: Notified) {
        self.on_owner(|owner| match owner {
            Some(owner) => owner.defer(task),
            None => self.shared.loops[self.owner].send(I::task(task)),
        });
    }

    fn before_poll(&self, task: RawTask) {
        self.on_owner(|owner| match owner {
            Some(owner) => owner.before_poll(task, true),
            // Always checked: polling a !Send future off its owner is unsound.
            None => panic!(
                "loopwork bug: pinned {} polled off its owner loop {}",
                task.header(),
                self.owner
            ),
        });
    }

    fn after_poll(&self, task: RawTask, pending: bool) {
        on_current_loop::<I>(|sched| sched.after_poll(task, pending));
    }

    fn destroyed_pending(&self, task: RawTask) {
        self.shared.report_destroyed(task);
    }

    fn owner(&self) -> crate::task::directory::Owner {
        self.shared.directory_owner()
    }

    fn poll_panicked(&self, task: RawTask, payload: &(dyn std::any::Any + Send)) {
        on_current_loop::<I>(|sched| sched.poll_panicked(task, payload));
    }
}

impl<I: InboxItem> Scheduler<I> {
    /// Reports a pending task this runtime's shutdown destroys (at most ten
    /// lines per shutdown, see `debug::DestroyedPending`).
    pub(crate) fn report_destroyed(&self, task: RawTask) {
        let header = task.header();
        // Its state word already says "cancelled": the shutdown is on it.
        self.destroyed
            .report(&header.repr_as("pending"), header.meta.trace().as_deref());
    }

    /// The key under which the task directory lists this runtime's tasks.
    pub(crate) fn directory_owner(&self) -> crate::task::directory::Owner {
        self as *const Self as *const () as usize
    }

    /// Spawns a new stealable task: onto the current loop's deque when called
    /// on one of this runtime's loops, otherwise through the gate onto the
    /// injector (see [`submit`](Self::submit)). Whether it was accepted.
    pub(crate) fn spawn(&self, task: Notified) -> bool {
        with_current::<I, _>(|sched| match sched {
            Some(sched) if sched.belongs_to(self) => sched.spawn(task, false),
            _ => self.submit(task),
        })
    }
}
