//! The runtime's two `Schedule` hooks: stealable tasks and pinned tasks.

use crate::runtime::context;
use crate::runtime::shared::{InboxItem, Shared};
use crate::sync::Arc;
use crate::task::{Notified, RawTask, Schedule, TaskKind};

/// For `Send` tasks: any loop of the runtime may poll them.
pub(crate) struct StealableScheduler {
    pub(crate) shared: Arc<Shared>,
}

impl Schedule for StealableScheduler {
    fn schedule(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.belongs_to(&self.shared) => core.push_local(task),
            _ => self.shared.push_remote(task),
        });
    }

    fn yield_now(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.belongs_to(&self.shared) => core.defer(task),
            _ => self.shared.push_remote(task),
        });
    }

    fn before_poll(&self, task: RawTask) {
        context::with_core(|core| {
            if let Some(core) = core {
                core.before_poll(task, false);
            }
        });
    }

    fn after_poll(&self, task: RawTask, pending: bool) {
        context::with_core(|core| {
            if let Some(core) = core {
                core.after_poll(task, pending);
            }
        });
    }
}

/// For tasks bound to one loop (`spawn_local`): only that loop polls them.
pub(crate) struct PinnedScheduler {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: usize,
}

impl Schedule for PinnedScheduler {
    fn schedule(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.belongs_to(&self.shared) && core.index == self.owner => {
                core.push_pinned(task)
            }
            _ => self.shared.loops[self.owner].send(InboxItem::Task(task)),
        });
    }

    fn yield_now(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.belongs_to(&self.shared) && core.index == self.owner => {
                core.defer(task)
            }
            _ => self.shared.loops[self.owner].send(InboxItem::Task(task)),
        });
    }

    fn before_poll(&self, task: RawTask) {
        context::with_core(|core| match core {
            // Always checked: polling a !Send future off its owner is unsound.
            Some(core) if core.belongs_to(&self.shared) && core.index == self.owner => {
                core.before_poll(task, true)
            }
            _ => {
                let header = task.header();
                debug_assert_eq!(header.meta.kind(), TaskKind::Pinned(self.owner));
                panic!(
                    "loopwork bug: pinned {} polled off its owner loop {}",
                    header.meta, self.owner
                );
            }
        });
    }

    fn after_poll(&self, task: RawTask, pending: bool) {
        context::with_core(|core| {
            if let Some(core) = core {
                core.after_poll(task, pending);
            }
        });
    }
}
