//! The raw task: one allocation holding the header, the scheduler hook, the
//! future (later its output) and the join waker, type-erased through a vtable.
//!
//! ```text
//! Cell<F, S> (#[repr(C)], one Box)
//! ├── Header     state word, vtable, id, name, spawn site   ← NonNull<Header> points here
//! ├── S          the scheduler hook: where a woken task goes
//! ├── Stage<F>   Running(F) | Finished(Result<F::Output, TaskError>) | Consumed
//! └── Option<Waker>  the join waker, guarded by the JOIN_WAKER bit
//! ```
//!
//! Access rules (see `state.rs` for the bits):
//! * the stage is touched only by the thread that set `RUNNING` (poll, cancel,
//!   complete), or after `COMPLETE` by the join handle, or by the completing
//!   thread when the join handle is gone — the `JOIN_INTEREST` CAS decides
//!   which of the last two owns the output;
//! * the header's `registered` flag is touched only under `RUNNING` or by the
//!   spawner before the task is first scheduled;
//! * the allocation is freed by whoever drops the last reference.

use super::error::{Panic, TaskError};
use super::state::{State, TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::trace::{self, TaskTrace};
use super::{Notified, Schedule, TaskMeta};
use crate::sync::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// The type-independent part of a task, first in the allocation.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    /// Id, name, spawn site, kind, and whether a loop's registry holds the
    /// task (see the module docs).
    pub(crate) meta: TaskMeta,
    /// Age, leaf, awaiter and directory slot, for the dumps (see `trace.rs`).
    pub(crate) trace: TaskTrace,
}

// Every task pays for the header: keep it at 104 bytes on 64-bit targets
// (48 for the state, vtable and metadata, 24 for the statistics, 32 for the
// await graph, the age and the last poll).
#[cfg(all(not(loopwork_loom), target_pointer_width = "64"))]
const _: () = assert!(std::mem::size_of::<Header>() == 104);

struct Vtable {
    poll: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>),
    shutdown: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle: unsafe fn(NonNull<Header>),
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, TaskError>),
    Consumed,
}

/// An untyped, uncounted pointer to a task. Copying it takes no reference.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: a RawTask is only a pointer; the operations on it follow the state
// word's protocol, which is what makes cross-thread use sound. A pinned
// (!Send) future is only ever polled or dropped on its owner thread, which the
// `Pinned` wrapper checks on every poll and drop.
unsafe impl Send for RawTask {}
// SAFETY: as above; `&RawTask` exposes nothing beyond the pointer.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a task. The returned pointer owns the initial two references
    /// (see `State::new`): the caller turns them into a `Notified` and a `Task`;
    /// with `listed`, a third one for the task directory.
    pub(crate) fn new<F, S>(future: F, scheduler: S, meta: TaskMeta, listed: bool) -> RawTask
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: if listed {
                    State::new_listed()
                } else {
                    State::new()
                },
                vtable: vtable::<F, S>(),
                meta,
                trace: TaskTrace::new(),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the caller holds a reference, so the allocation is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Polls the task; consumes one reference (a `Notified`'s).
    pub(crate) fn poll(self) {
        // SAFETY: the vtable belongs to this task's own types.
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// Hands one reference, as a `Notified`, to the task's scheduler.
    pub(crate) fn schedule(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// Shuts the task down (cancels it) without consuming a reference.
    pub(crate) fn shutdown(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Releases one reference, freeing the task when it was the last.
    pub(crate) fn drop_reference(self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { (self.header().vtable.dealloc)(self.ptr) }
        }
    }

    /// # Safety
    /// `dst` must point to a `Poll<Result<T, TaskError>>` of the task's output type.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller guarantees the type of `dst`.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// The join handle is going away; consumes its reference.
    pub(crate) fn drop_join_handle(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }

    /// Marks the task as held by a loop registry. Returns `false` if it already was.
    ///
    /// # Safety
    /// Only while running the task, or before it is first scheduled.
    pub(crate) unsafe fn mark_registered(self) -> bool {
        // SAFETY: exclusive by the caller's contract.
        self.header()
            .meta
            .registered
            .with_mut(|r| unsafe { !std::mem::replace(&mut *r, true) })
    }

    /// A waker for this task that takes a new reference.
    #[cfg_attr(not(loopwork_loom), allow(dead_code))]
    pub(crate) fn waker(self) -> Waker {
        self.header().state.ref_inc();
        // SAFETY: the vtable's contract is met by the functions below.
        unsafe { Waker::from_raw(RawWaker::new(self.ptr.as_ptr() as *const (), &WAKER_VTABLE)) }
    }
}

fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        shutdown: shutdown::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
    }
}

// ===== the waker =====
//
// One vtable for every task: the operations go through the header's vtable,
// so `Waker::will_wake` is meaningful across polls and clones are a ref-count
// increment only.

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a live waker holds a reference, so the header is alive.
    let header = unsafe { &*(ptr as *const Header) };
    header.state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: a waker's data pointer is a non-null task header; the waker's
    // reference keeps the task alive and is consumed here.
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    let raw = RawTask { ptr };
    match raw.header().state.transition_to_notified_by_val() {
        TransitionToNotified::Submit => raw.schedule(),
        TransitionToNotified::Dealloc => {
            // SAFETY: that was the last reference.
            unsafe { (raw.header().vtable.dealloc)(raw.ptr) }
        }
        TransitionToNotified::DoNothing => {}
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: a waker's data pointer is a non-null task header; the waker's
    // reference keeps the task alive.
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    let raw = RawTask { ptr };
    if raw.header().state.transition_to_notified_by_ref() == TransitionToNotified::Submit {
        raw.schedule();
    }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: a waker's data pointer is a non-null task header; the waker's
    // reference keeps the task alive and is released here.
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    let raw = RawTask { ptr };
    raw.drop_reference();
}

// ===== the typed operations =====

struct Harness<F: Future, S> {
    cell: NonNull<Cell<F, S>>,
}

impl<F: Future, S: Schedule> Harness<F, S> {
    /// # Safety
    /// `ptr` must point to a live `Cell<F, S>`.
    unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Harness { cell: ptr.cast() }
    }

    fn cell(&self) -> &Cell<F, S> {
        // SAFETY: the caller of `from_raw` holds a reference.
        unsafe { self.cell.as_ref() }
    }

    fn header(&self) -> &Header {
        &self.cell().header
    }

    fn raw(&self) -> RawTask {
        RawTask {
            ptr: self.cell.cast(),
        }
    }

    fn poll(self) {
        match self.header().state.transition_to_running() {
            TransitionToRunning::Success => self.poll_inner(),
            TransitionToRunning::Cancelled => {
                self.cancel_stage();
                self.complete();
            }
            TransitionToRunning::Failed => {}
            TransitionToRunning::Dealloc => self.dealloc(),
        }
    }

    fn poll_inner(self) {
        let scheduler = &self.cell().scheduler;
        scheduler.before_poll(self.raw());
        // A waker that borrows the running reference: no count change.
        // SAFETY: the vtable contract holds and ManuallyDrop skips the release.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(
                self.cell.as_ptr() as *const (),
                &WAKER_VTABLE,
            ))
        });
        let mut cx = Context::from_waker(&waker);
        let prev = trace::enter(self.header());
        let res = catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: RUNNING gives this thread exclusive access to the
                // stage, and the future is never moved out of the allocation.
                let stage = unsafe { &mut *stage };
                match stage {
                    // SAFETY: pinned in place: the allocation never moves.
                    Stage::Running(fut) => unsafe { Pin::new_unchecked(fut) }.poll(&mut cx),
                    _ => unreachable!("polled a task that is not running"),
                }
            })
        }));
        trace::leave(prev);
        if let Err(p) = &res {
            scheduler.poll_panicked(self.raw(), &**p);
        }
        scheduler.after_poll(self.raw(), matches!(res, Ok(Poll::Pending)));
        match res {
            Ok(Poll::Pending) => match self.header().state.transition_to_idle() {
                TransitionToIdle::Ok => {}
                TransitionToIdle::OkNotified => scheduler.yield_now(Notified::from_raw(self.raw())),
                TransitionToIdle::OkDealloc => self.dealloc(),
                TransitionToIdle::Cancelled => {
                    self.cancel_stage();
                    self.complete();
                }
            },
            Ok(Poll::Ready(output)) => {
                self.set_stage(Stage::Finished(Ok(output)));
                self.complete();
            }
            Err(payload) => {
                self.set_stage(Stage::Finished(Err(TaskError::Panicked(Panic::new(
                    payload,
                )))));
                self.complete();
            }
        }
    }

    /// Drops the future and stores `Cancelled`. Caller holds RUNNING.
    fn cancel_stage(&self) {
        // Futures the task created but had not awaited yet go with it: a
        // cancellation, not a forgotten `.await`.
        let _cancelling = crate::debug::unawaited::Cancelling::enter();
        self.set_stage(Stage::Finished(Err(TaskError::Cancelled)));
    }

    /// Replaces the stage, dropping the old one; a panic in that drop is
    /// caught (and, if it was the future's, becomes the task's error).
    fn set_stage(&self, new: Stage<F>) {
        let res = catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: the caller has exclusive access (RUNNING or COMPLETE owner).
                unsafe { *stage = Stage::Consumed };
            })
        }));
        let new = match (res, new) {
            (Err(payload), Stage::Finished(Ok(_) | Err(TaskError::Cancelled))) => {
                Stage::Finished(Err(TaskError::Panicked(Panic::new(payload))))
            }
            (_, new) => new,
        };
        self.cell().stage.with_mut(|stage| {
            // SAFETY: as above; the slot is `Consumed`, nothing is dropped.
            unsafe { std::ptr::write(stage, new) };
        });
    }

    /// RUNNING → COMPLETE, notify the joiner, release the running reference.
    fn complete(self) {
        let snapshot = self.header().state.transition_to_complete();
        if !snapshot.is_join_interested() {
            // Nobody will read the output: report a lost panic, drop it here.
            self.cell().stage.with(|stage| {
                // SAFETY: the join handle is gone and the task is complete;
                // this thread is the only one left that may touch the stage.
                report_unretrieved(self.header(), unsafe { &*stage });
            });
            self.set_stage(Stage::Consumed);
        } else if snapshot.is_join_waker_set() {
            self.cell().join_waker.with(|w| {
                // SAFETY: JOIN_WAKER is set and COMPLETE now: the join handle
                // will not write the slot again; reading it is ours.
                if let Some(w) = unsafe { &*w } {
                    w.wake_by_ref();
                }
            });
            // Let go of the slot. If the join handle was dropped meanwhile,
            // it left the waker to us: drop it now, not at the free (two
            // tasks awaiting each other would keep each other alive).
            let after = self.header().state.unset_waker_after_complete();
            if !after.is_join_interested() {
                // SAFETY: COMPLETE, and the join handle is gone: nobody else
                // touches the slot.
                self.cell().join_waker.with_mut(|w| unsafe { *w = None });
            }
        }
        if self.header().state.ref_dec() {
            self.dealloc();
        }
    }

    fn dealloc(self) {
        // Under loom these record a write to each cell, so a free that is not
        // ordered after every other thread's last use of the task (a missing
        // Acquire on the final reference release) is reported as a race.
        // In production they compile to nothing.
        self.cell().stage.with_mut(|_| ());
        self.cell().join_waker.with_mut(|_| ());
        // SAFETY: the last reference is gone; the Box made in `RawTask::new`
        // is reclaimed exactly once.
        drop(unsafe { Box::from_raw(self.cell.as_ptr()) });
    }
}

unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reachable from a Cell<F, S>.
    unsafe { Harness::<F, S>::from_raw(ptr) }.poll();
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    let harness = unsafe { Harness::<F, S>::from_raw(ptr) };
    harness
        .cell()
        .scheduler
        .schedule(Notified::from_raw(harness.raw()));
}

unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`; the caller holds a reference for the duration.
    let harness = unsafe { Harness::<F, S>::from_raw(ptr) };
    let cancelled_before = harness.header().state.load().is_cancelled();
    if !harness.header().state.transition_to_shutdown() {
        // Running elsewhere (its poller cancels it) or already complete.
        return;
    }
    if !cancelled_before && !harness.header().meta.is_background() {
        // Pending, and nobody asked for its end: the runtime is closing
        // over it (asyncio's "Task was destroyed but it is pending!").
        harness.cell().scheduler.destroyed_pending(harness.raw());
    }
    harness.cancel_stage();
    // `complete` releases a reference: take one for it, since the caller's
    // reference is not ours to consume.
    harness.header().state.ref_inc();
    harness.complete();
}

/// Reports an output nobody will read: a panic, or (tasks spawned with
/// `spawn_fallible`) an `Err`.
fn report_unretrieved<F: Future>(header: &Header, stage: &Stage<F>) {
    match stage {
        Stage::Finished(Err(TaskError::Panicked(p))) => {
            crate::debug::report_unretrieved_panic(
                header,
                p.message(),
                header.meta.trace().as_deref(),
            );
        }
        Stage::Finished(Ok(out)) => {
            if let Some(describe) = header.meta.describe_err() {
                // SAFETY: `spawn_fallible` made `describe` for this task's
                // output type, `F::Output`.
                let err = unsafe { describe(out as *const F::Output as *const ()) };
                if let Some(err) = err {
                    crate::debug::report_unretrieved_error(
                        header,
                        &err,
                        header.meta.trace().as_deref(),
                    );
                }
            }
        }
        _ => {}
    }
}

unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.dealloc();
}

unsafe fn try_read_output<F: Future, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: as in `poll`; the join handle holds a reference.
    let harness = unsafe { Harness::<F, S>::from_raw(ptr) };
    // SAFETY: the join handle passes a pointer to its own output slot.
    let dst = unsafe { &mut *(dst as *mut Poll<Result<F::Output, TaskError>>) };
    if !can_read_output(harness.header(), &harness.cell().join_waker, waker) {
        return;
    }
    let stage = harness.cell().stage.with_mut(|stage| {
        // SAFETY: COMPLETE with join interest: the output is the join handle's.
        unsafe { std::mem::replace(&mut *stage, Stage::Consumed) }
    });
    match stage {
        Stage::Finished(out) => *dst = Poll::Ready(out),
        _ => panic!("task output read twice: a Task polled after it returned Ready"),
    }
}

/// The join side of the JOIN_WAKER protocol: `true` when the output is ready.
fn can_read_output(header: &Header, slot: &UnsafeCell<Option<Waker>>, waker: &Waker) -> bool {
    let snapshot = header.state.load();
    if snapshot.is_complete() {
        return true;
    }
    if snapshot.is_join_waker_set() {
        // SAFETY: the runtime only reads the slot; a shared read here is fine.
        let same = slot.with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        // Take the slot back before writing it.
        if header.state.unset_waker().is_err() {
            return true;
        }
    }
    // JOIN_WAKER is clear: the slot is ours.
    // SAFETY: while JOIN_WAKER is clear only the join handle touches the slot.
    slot.with_mut(|w| unsafe { *w = Some(waker.clone()) });
    match header.state.set_join_waker() {
        Ok(_) => false,
        Err(_) => {
            // Completed meanwhile: the slot is still ours; clear it.
            // SAFETY: JOIN_WAKER was never set, so the runtime never reads it.
            slot.with_mut(|w| unsafe { *w = None });
            true
        }
    }
}

unsafe fn drop_join_handle<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`; consumes the join handle's reference.
    let harness = unsafe { Harness::<F, S>::from_raw(ptr) };
    let (prev, next) = harness.header().state.transition_to_join_handle_dropped();
    if prev.is_complete() {
        // Complete: the output is ours to drop, and nobody retrieved it.
        let stage = harness.cell().stage.with_mut(|stage| {
            // SAFETY: COMPLETE and we still had join interest: exclusive.
            unsafe { std::mem::replace(&mut *stage, Stage::Consumed) }
        });
        report_unretrieved(harness.header(), &stage);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(stage)));
    }
    if !next.is_join_waker_set() {
        // The slot is ours (JOIN_WAKER clear): empty it now, so the waker's
        // task is not kept alive by this one until its free.
        let waker = harness.cell().join_waker.with_mut(|w| {
            // SAFETY: JOIN_WAKER is clear and JOIN_INTEREST gone: the runtime
            // will not read the slot again.
            unsafe { (*w).take() }
        });
        drop(waker);
    }
    if harness.header().state.ref_dec() {
        harness.dealloc();
    }
}
