//! What diagnostics read about a task from any thread while it runs or
//! waits: when it was made, the loopwork future it is suspended on (its
//! *leaf*), and who awaits it (the await graph's edge into it).
//!
//! # Invariants
//! * **Leaf**: written only by the thread polling the task, while it holds
//!   `RUNNING`. The poller makes the task the thread's *current task* for
//!   the poll ([`enter`]) and clears the leaf; a loopwork future that
//!   returns `Pending` stores its kind, payload and creation site into the
//!   current task ([`set_leaf`]). A task whose last poll stored nothing is
//!   suspended on "a future outside loopwork". Outside a task poll, a
//!   thread in `block_on` has a leaf slot of its own, in its entry of the
//!   waiters' table, written the same way by the thread itself (cleared
//!   before each poll of its future, [`block_on_poll_starts`]) and freed
//!   only after the thread stopped pointing at it.
//! * **Edge** (`awaited_by`): written by whoever awaits the task — the poller
//!   of the awaiting task on its first `Pending` (not on every poll: a store
//!   only when the awaiter changes), or a foreign thread blocked on it — and
//!   cleared when that await ends, is cancelled or dropped. One awaiter at a
//!   time: every handle that awaits a task (`Task`, `ConcurrentFuture`) is
//!   unique, so the graph is built explicitly, as asyncio's
//!   `future_add_to_awaited_by` does, never by re-polling.
//! * **Readers**: any thread, with `Relaxed` loads: a diagnostic snapshot,
//!   never a synchronisation point. A torn read (the site of one leaf with
//!   the payload of the next) gives one wrong line in a dump, never
//!   unsafety: every word is plain data (`&'static Location`, integers).
//!   Readers reach a header only through the task directory, which holds a
//!   reference to every listed task.
//!
//! * **Times** (`created_ms`, `polled_ms`): milliseconds of the coarse
//!   monotonic clock (`CLOCK_MONOTONIC_COARSE`, resolution one kernel tick,
//!   1-4 ms), kept in 32 bits that wrap every 2^32 ms (49.7 days): only
//!   differences are read, with wrapping arithmetic, so they are exact up to
//!   49.7 days (an age or an idle time longer than that reads modulo 49.7
//!   days). `created_ms` is set at the spawn and never changes: on a loop
//!   thread it is the loop's iteration time (below), elsewhere a reading
//!   of its own.
//!   `polled_ms` is written by the poller, under `RUNNING`, at the start of
//!   each poll ([`TaskTrace::poll_started`]) with the clock reading its loop
//!   took at the start of its current iteration ([`iteration_started`]),
//!   not a reading of its own: production reads no clock per poll, nor per
//!   spawn on a loop thread. So an age and the time since the last poll are
//!   overstated by at most what the iteration ran before the spawn or the
//!   poll (its inbox, timers, callbacks and up to 63 other polls) plus one
//!   tick; a reader clamps the time since the last poll to the age (a task
//!   stolen by a loop whose iteration began before the spawn).
//!
//! # Cost
//! Per poll: one thread-local swap, one store clearing the leaf and one
//! store of the loop's iteration time. Per loop iteration: one coarse clock
//! read (a few ns through the vDSO) and a thread-local store. Per `Pending`
//! of a loopwork leaf: two stores into the task's header. Per spawn: a
//! thread-local read on a loop thread, one coarse clock read elsewhere. Per
//! blocking job: one coarse clock read and three stores into its thread's
//! job slot. Under loom all of this compiles to nothing.

use super::Header;
use crate::sync::Mutex;
use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The kind of future a task is suspended on (top byte of `TaskTrace::leaf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum LeafKind {
    /// A `Sleep`; payload: its deadline (ms since `BASE`).
    Sleep = 1,
    /// A read or readiness wait on an fd; payload: the fd.
    Read = 2,
    /// A write or writability wait on an fd; payload: the fd.
    Write = 3,
    /// `accept` on a listener; payload: the fd.
    Accept = 4,
    /// A `PromiseFuture`.
    Promise = 5,
    // 6 was `yield_now`: it records no leaf (see `YieldNow::poll`).
    /// Awaiting a `Task`; payload: its id.
    Join = 7,
    /// Awaiting a `ConcurrentFuture`; payload: the producing task's id, or 0.
    Concurrent = 8,
    /// A `wait_for` whose inner future left no leaf; payload: its deadline.
    WaitFor = 9,
    /// Awaiting a job of the blocking pool (`spawn_blocking`,
    /// `run_in_executor`), which the dumps do not list as a task; payload:
    /// its id; site: where it was created.
    Blocking = 10,
}

impl LeafKind {
    fn from_u8(v: u8) -> Option<LeafKind> {
        Some(match v {
            1 => LeafKind::Sleep,
            2 => LeafKind::Read,
            3 => LeafKind::Write,
            4 => LeafKind::Accept,
            5 => LeafKind::Promise,
            7 => LeafKind::Join,
            8 => LeafKind::Concurrent,
            9 => LeafKind::WaitFor,
            10 => LeafKind::Blocking,
            _ => return None,
        })
    }
}

const PAYLOAD_MASK: u64 = (1 << 56) - 1;
/// `awaited_by` values with this bit are foreign threads (see `BlockingWait`).
pub(crate) const THREAD_NODE: u64 = 1 << 63;

/// A leaf as read by a dump.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaf {
    pub(crate) kind: LeafKind,
    pub(crate) payload: u64,
    pub(crate) location: Option<&'static Location<'static>>,
}

/// Where a leaf is stored: in a task's header, or for a thread blocked in
/// `block_on`, in its entry of the waiters' table.
pub(crate) struct LeafSlot {
    site: AtomicPtr<Location<'static>>,
    /// `kind << 56 | payload`; 0: no loopwork leaf.
    word: AtomicU64,
}

impl LeafSlot {
    const fn new() -> LeafSlot {
        LeafSlot {
            site: AtomicPtr::new(std::ptr::null_mut()),
            word: AtomicU64::new(0),
        }
    }

    #[inline]
    fn set(&self, kind: LeafKind, payload: u64, location: Option<&'static Location<'static>>) {
        let site = location.map_or(std::ptr::null_mut(), |l| l as *const _ as *mut _);
        self.site.store(site, Relaxed);
        self.word
            .store(((kind as u64) << 56) | (payload & PAYLOAD_MASK), Relaxed);
    }

    #[inline]
    fn clear(&self) {
        self.word.store(0, Relaxed);
    }

    fn get(&self) -> Option<Leaf> {
        let word = self.word.load(Relaxed);
        let kind = LeafKind::from_u8((word >> 56) as u8)?;
        let site = self.site.load(Relaxed);
        // SAFETY: only `&'static Location`s (or null) are ever stored.
        let location = unsafe { site.as_ref() };
        Some(Leaf {
            kind,
            payload: word & PAYLOAD_MASK,
            location,
        })
    }
}

/// The diagnostic part of a task's header (see the module docs).
pub(crate) struct TaskTrace {
    /// Coarse time of the spawn (ms, wrapping; immutable).
    created_ms: u32,
    /// Coarse time at which the last poll started, as its loop read it at
    /// the start of its iteration (ms, wrapping; see the module docs).
    polled_ms: AtomicU32,
    leaf: LeafSlot,
    /// 0: nobody; a task id; or `THREAD_NODE | waiter`.
    awaited_by: AtomicU64,
}

impl TaskTrace {
    #[inline]
    pub(crate) fn new() -> TaskTrace {
        TaskTrace {
            created_ms: spawn_time(),
            polled_ms: AtomicU32::new(0),
            leaf: LeafSlot::new(),
            awaited_by: AtomicU64::new(0),
        }
    }

    /// How long ago the task was spawned, at coarse time `now`
    /// ([`coarse_now_ms`]): resolution one kernel tick.
    pub(crate) fn age(&self, now: u32) -> Duration {
        Duration::from_millis(u64::from(now.wrapping_sub(self.created_ms)))
    }

    /// Records that a poll starts, at the polling loop's iteration time
    /// `now` ([`coarse_now_ms`]). Called by the poller, under `RUNNING`.
    #[inline]
    pub(crate) fn poll_started(&self, now: u32) {
        self.polled_ms.store(now, Relaxed);
    }

    /// How long ago the last poll started, at coarse time `now`, for a task
    /// that has been polled: never more than its age (see the module docs).
    pub(crate) fn since_poll(&self, now: u32) -> Duration {
        let since =
            Duration::from_millis(u64::from(now.wrapping_sub(self.polled_ms.load(Relaxed))));
        since.min(self.age(now))
    }

    /// The leaf stored by the task's last `Pending` poll, if it came from loopwork.
    pub(crate) fn leaf(&self) -> Option<Leaf> {
        self.leaf.get()
    }

    /// Who awaits the task: 0, a task id, or `THREAD_NODE | waiter`.
    pub(crate) fn awaited_by(&self) -> u64 {
        self.awaited_by.load(Relaxed)
    }
}

/// The coarse monotonic clock in ms, truncated to 32 bits (wrapping: only
/// differences are meaningful, see the module docs).
#[inline]
pub(crate) fn coarse_now_ms() -> u32 {
    #[cfg(all(not(loopwork_loom), target_os = "linux"))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call cannot fail
        // for this clock id on Linux (and a failure leaves zeros: age 0).
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        // 32-bit arithmetic on purpose: the value wraps (see above).
        (ts.tv_sec as u32)
            .wrapping_mul(1000)
            .wrapping_add(ts.tv_nsec as u32 / 1_000_000)
    }
    #[cfg(all(not(loopwork_loom), not(target_os = "linux")))]
    {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_millis() as u32
    }
    #[cfg(loopwork_loom)]
    {
        0
    }
}

/// The instant leaf deadlines are measured from.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A deadline as a leaf payload (ms since `BASE`).
pub(crate) fn deadline_payload(deadline: Instant) -> u64 {
    (deadline.saturating_duration_since(base()).as_millis() as u64) & PAYLOAD_MASK
}

/// A leaf payload back as the deadline it encodes.
pub(crate) fn payload_deadline(payload: u64) -> Instant {
    base() + Duration::from_millis(payload)
}

// ===== the thread's current task =====

#[cfg(not(loopwork_loom))]
std::thread_local! {
    /// The task being polled on this thread (null: none).
    static CURRENT: Cell<*const Header> = const { Cell::new(std::ptr::null()) };
    /// Outside a task poll, the foreign waiter node of a `block_on` (0: none).
    static WAITER: Cell<u64> = const { Cell::new(0) };
    /// Outside a task poll, the leaf slot of a `block_on` (null: none).
    static WAITER_LEAF: Cell<*const LeafSlot> = const { Cell::new(std::ptr::null()) };
    /// On a loop thread, the coarse time its current iteration started
    /// (0: not a loop thread, or the clock read 0).
    static LOOP_NOW: Cell<u32> = const { Cell::new(0) };
}

/// A loop starts an iteration: reads the coarse clock once for the
/// iteration's polls and spawns (see the module docs) and returns it.
/// Not inlined: once per iteration, and inlined it tipped the loop's
/// `run_once` over the inliner's budget (its task polls stopped being
/// inlined, +2 % instructions on `yield_many`).
#[inline(never)]
pub(crate) fn iteration_started() -> u32 {
    let now = coarse_now_ms();
    #[cfg(not(loopwork_loom))]
    let _ = LOOP_NOW.try_with(|c| c.set(now));
    now
}

/// The time a task spawned now is stamped with: its loop's iteration time
/// on a loop thread, a clock reading elsewhere.
#[inline]
fn spawn_time() -> u32 {
    #[cfg(not(loopwork_loom))]
    if let Some(now) = LOOP_NOW.try_with(Cell::get).ok().filter(|&t| t != 0) {
        return now;
    }
    coarse_now_ms()
}

/// Makes `header` the thread's current task for one poll and clears its
/// leaf; returns what to restore with [`leave`]. Called by the poller.
#[inline]
pub(crate) fn enter(header: &Header) -> *const Header {
    #[cfg(not(loopwork_loom))]
    {
        header.trace.leaf.clear();
        CURRENT
            .try_with(|c| c.replace(header as *const Header))
            .unwrap_or(std::ptr::null())
    }
    #[cfg(loopwork_loom)]
    {
        let _ = header;
        std::ptr::null()
    }
}

/// Ends a poll started with [`enter`].
#[inline]
pub(crate) fn leave(prev: *const Header) {
    #[cfg(not(loopwork_loom))]
    let _ = CURRENT.try_with(|c| c.set(prev));
    #[cfg(loopwork_loom)]
    let _ = prev;
}

/// Runs `f` with the current task's header, if a task is being polled here.
#[inline]
fn with_current_task(f: impl FnOnce(&Header)) {
    #[cfg(not(loopwork_loom))]
    {
        let current = CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null());
        // SAFETY: `enter` stored a pointer to the header of the task this
        // thread is polling; the poll holds a reference to it until `leave`.
        if let Some(header) = unsafe { current.as_ref() } {
            f(header);
        }
    }
    #[cfg(loopwork_loom)]
    let _ = f;
}

/// Runs `f` with the leaf slot of what is being polled here: the current
/// task's, or outside a task poll a `block_on`'s.
#[inline]
fn with_current_slot(f: impl FnOnce(&LeafSlot)) {
    #[cfg(not(loopwork_loom))]
    {
        let current = CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null());
        // SAFETY: as in `with_current_task`.
        if let Some(header) = unsafe { current.as_ref() } {
            f(&header.trace.leaf);
        } else {
            let slot = WAITER_LEAF.try_with(Cell::get).unwrap_or(std::ptr::null());
            // SAFETY: `awaiting_here` stored a pointer to the boxed slot of
            // this thread's waiter entry, which stays allocated until the
            // `BlockingWait` drops, and the drop resets the pointer first.
            if let Some(slot) = unsafe { slot.as_ref() } {
                f(slot);
            }
        }
    }
    #[cfg(loopwork_loom)]
    let _ = f;
}

/// A `block_on` on this thread polls its future again: clears the leaf of
/// its last poll (the counterpart of [`enter`]'s).
pub(crate) fn block_on_poll_starts() {
    with_current_slot(LeafSlot::clear);
}

/// The awaiter node of code running here: the current task's id, the
/// foreign waiter of a `block_on` on this thread, or 0.
fn current_awaiter() -> u64 {
    #[cfg(not(loopwork_loom))]
    {
        let task = CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null());
        // SAFETY: as in `with_current_task`.
        match unsafe { task.as_ref() } {
            Some(h) => h.meta.id.as_u64(),
            None => WAITER.try_with(Cell::get).unwrap_or(0),
        }
    }
    #[cfg(loopwork_loom)]
    0
}

/// The id of the task being polled on this thread, or 0.
pub(crate) fn current_task_id() -> u64 {
    let mut id = 0;
    with_current_task(|h| id = h.meta.id.as_u64());
    id
}

/// A loopwork future returned `Pending`: records it as the current task's
/// leaf (two relaxed stores into the task's header), or outside a task poll
/// as the leaf of the thread's `block_on`.
#[inline]
pub(crate) fn set_leaf(kind: LeafKind, payload: u64, location: Option<&'static Location<'static>>) {
    with_current_slot(|slot| slot.set(kind, payload, location));
}

/// Takes the current task's leaf (a combinator that polls several futures
/// keeps the one that says most, see `WaitFor`).
pub(crate) fn take_leaf() -> Option<Leaf> {
    let mut out = None;
    with_current_slot(|slot| {
        out = slot.get();
        slot.clear();
    });
    out
}

/// Puts back a leaf taken with [`take_leaf`].
pub(crate) fn restore_leaf(leaf: Leaf) {
    set_leaf(leaf.kind, leaf.payload, leaf.location);
}

// ===== edges =====

/// The code running here awaits the task of `awaited` and it returned
/// `Pending`: records the edge (a store only when the awaiter changed) and,
/// for a task awaiting it, the leaf `kind`.
#[inline]
pub(crate) fn awaiting(awaited: &Header, kind: LeafKind) {
    let me = current_awaiter();
    if me != 0 && awaited.trace.awaited_by.load(Relaxed) != me {
        awaited.trace.awaited_by.store(me, Relaxed);
    }
    let id = awaited.meta.id.as_u64();
    if kind == LeafKind::Join && awaited.meta.kind() == super::TaskKind::Blocking {
        // Not a node of the graph (the directory does not list pool jobs):
        // a leaf that says what and where.
        set_leaf(LeafKind::Blocking, id, Some(awaited.meta.location));
    } else {
        set_leaf(kind, id, None);
    }
}

/// The await on `awaited` ended (its value was taken, or the awaiting
/// handle was dropped): removes the edge.
#[inline]
pub(crate) fn await_ended(awaited: &Header) {
    if awaited.trace.awaited_by.load(Relaxed) != 0 {
        awaited.trace.awaited_by.store(0, Relaxed);
    }
}

/// Records that foreign waiter `node` (a `BlockingWait`) awaits `awaited`.
pub(crate) fn awaited_by_node(awaited: &Header, node: u64) {
    awaited.trace.awaited_by.store(node, Relaxed);
}

// ===== jobs of the blocking pool =====

/// What a thread running a blocking job publishes for the dumps: one slot
/// per thread that ever ran one, listed in `JOB_SLOTS` until it exits.
/// Written only by its thread (two relaxed stores per job), read by dumps.
#[cfg(not(loopwork_loom))]
struct JobSlot {
    /// The running job's task id; 0: none.
    id: AtomicU64,
    /// Coarse time the job started (ms, wrapping).
    started_ms: AtomicU32,
    thread: String,
}

#[cfg(not(loopwork_loom))]
static JOB_SLOTS: Mutex<Vec<std::sync::Arc<JobSlot>>> = Mutex::new(Vec::new());

/// A thread's entry in `JOB_SLOTS`, removed when the thread exits.
#[cfg(not(loopwork_loom))]
struct JobSlotEntry(std::sync::Arc<JobSlot>);

#[cfg(not(loopwork_loom))]
impl Drop for JobSlotEntry {
    fn drop(&mut self) {
        JOB_SLOTS
            .lock()
            .retain(|s| !std::sync::Arc::ptr_eq(s, &self.0));
    }
}

#[cfg(not(loopwork_loom))]
std::thread_local! {
    static JOB_SLOT: JobSlotEntry = {
        let slot = std::sync::Arc::new(JobSlot {
            id: AtomicU64::new(0),
            started_ms: AtomicU32::new(0),
            thread: std::thread::current().name().unwrap_or("<unnamed>").to_owned(),
        });
        JOB_SLOTS.lock().push(slot.clone());
        JobSlotEntry(slot)
    };
}

/// A blocking job (`header`) starts running on this thread.
pub(crate) fn blocking_job_starts(header: &Header) {
    #[cfg(not(loopwork_loom))]
    let _ = JOB_SLOT.try_with(|e| {
        e.0.started_ms.store(coarse_now_ms(), Relaxed);
        e.0.id.store(header.meta.id.as_u64(), Relaxed);
    });
    #[cfg(loopwork_loom)]
    let _ = header;
}

/// The blocking job running on this thread returned.
pub(crate) fn blocking_job_ends() {
    #[cfg(not(loopwork_loom))]
    let _ = JOB_SLOT.try_with(|e| e.0.id.store(0, Relaxed));
}

/// Where and for how long blocking job `id` has been running, if it is.
pub(crate) fn running_job(id: u64) -> Option<(String, Duration)> {
    #[cfg(not(loopwork_loom))]
    {
        let now = coarse_now_ms();
        JOB_SLOTS
            .lock()
            .iter()
            .find(|s| s.id.load(Relaxed) == id)
            .map(|s| {
                let ms = now.wrapping_sub(s.started_ms.load(Relaxed));
                (s.thread.clone(), Duration::from_millis(u64::from(ms)))
            })
    }
    #[cfg(loopwork_loom)]
    {
        let _ = id;
        None
    }
}

// ===== foreign threads blocked on the runtime =====

/// A foreign thread blocked in `ConcurrentFuture::result*` or `block_on`.
#[derive(Clone, Debug)]
pub(crate) struct Waiter {
    pub(crate) thread: String,
    pub(crate) api: &'static str,
    pub(crate) location: &'static Location<'static>,
    pub(crate) since: Instant,
    /// A `block_on` (it polls a future of its own): what that future's
    /// last poll was suspended on, `None` if nothing from loopwork. Always
    /// `None` for the other waits.
    pub(crate) leaf: Option<Leaf>,
    /// Whether `leaf` applies (the wait polls a future of its own).
    pub(crate) polls: bool,
    /// For a `block_on`: the runtime it blocks on (`directory::Owner`);
    /// 0 otherwise.
    pub(crate) owner: usize,
}

/// A waiter's entry: its description and, for a `block_on`, its leaf slot
/// (boxed: the table moves its entries when it grows, the slot must not).
#[cfg(not(loopwork_loom))]
struct WaiterEntry {
    waiter: Waiter,
    slot: Option<Box<LeafSlot>>,
}

#[cfg(not(loopwork_loom))]
static WAITERS: Mutex<Vec<Option<WaiterEntry>>> = Mutex::new(Vec::new());

/// While alive, this thread is a node of the await graph, "awaited by
/// thread 'name' (blocking)"; a `block_on` also makes it the awaiter of the
/// tasks its future awaits.
pub(crate) struct BlockingWait {
    node: u64,
    /// The `WAITER` and `WAITER_LEAF` to restore, when `awaiting_here` set them.
    prev: Option<(u64, *const LeafSlot)>,
}

impl BlockingWait {
    /// Registers the calling thread as blocked in `api`, called at
    /// `location` (under loom: no registry of waiters).
    pub(crate) fn enter(api: &'static str, location: &'static Location<'static>) -> BlockingWait {
        #[cfg(loopwork_loom)]
        {
            let _ = (api, location);
            BlockingWait {
                node: THREAD_NODE,
                prev: None,
            }
        }
        #[cfg(not(loopwork_loom))]
        Self::register(api, location)
    }

    #[cfg(not(loopwork_loom))]
    fn register(api: &'static str, location: &'static Location<'static>) -> BlockingWait {
        let thread = std::thread::current();
        let waiter = Waiter {
            thread: thread.name().unwrap_or("<unnamed>").to_owned(),
            api,
            location,
            since: Instant::now(),
            leaf: None,
            polls: false,
            owner: 0,
        };
        let entry = WaiterEntry { waiter, slot: None };
        let mut waiters = WAITERS.lock();
        let index = match waiters.iter().position(Option::is_none) {
            Some(i) => {
                waiters[i] = Some(entry);
                i
            }
            None => {
                waiters.push(Some(entry));
                waiters.len() - 1
            }
        };
        BlockingWait {
            node: THREAD_NODE | index as u64,
            prev: None,
        }
    }

    /// The node's id, for `awaited_by`.
    pub(crate) fn node(&self) -> u64 {
        self.node
    }

    /// Makes this waiter the awaiter of what the thread polls (a `block_on`
    /// that is not itself inside a task poll) until dropped, and gives it a
    /// leaf slot: the loopwork future the `block_on`'s own future waits on
    /// is drawn under the thread, as a task's under the task.
    /// `owner`: the runtime blocked on (`directory::Owner`), whose dumps
    /// draw the thread even while it awaits no task.
    #[cfg_attr(loopwork_loom, allow(unused_mut))]
    pub(crate) fn awaiting_here(mut self, owner: usize) -> BlockingWait {
        #[cfg(loopwork_loom)]
        let _ = owner;
        #[cfg(not(loopwork_loom))]
        {
            let node = self.node;
            // Inside a task poll (a misuse `check_blocking_wait` reports)
            // the task stays the awaiter.
            let in_task = CURRENT.try_with(|c| !c.get().is_null()).unwrap_or(true);
            if !in_task {
                let slot = Box::new(LeafSlot::new());
                let ptr: *const LeafSlot = &*slot;
                let index = (node & !THREAD_NODE) as usize;
                if let Some(Some(entry)) = WAITERS.lock().get_mut(index) {
                    entry.slot = Some(slot);
                    entry.waiter.polls = true;
                    entry.waiter.owner = owner;
                }
                let prev_waiter = WAITER.try_with(|w| w.replace(node)).unwrap_or(0);
                let prev_leaf = WAITER_LEAF
                    .try_with(|w| w.replace(ptr))
                    .unwrap_or(std::ptr::null());
                self.prev = Some((prev_waiter, prev_leaf));
            }
        }
        self
    }

    /// Ends the wait; clears `awaited`'s edge if it still points here.
    pub(crate) fn finish(self, awaited: Option<&Header>) {
        if let Some(h) = awaited {
            let _ = h
                .trace
                .awaited_by
                .compare_exchange(self.node, 0, Relaxed, Relaxed);
        }
    }
}

impl Drop for BlockingWait {
    fn drop(&mut self) {
        #[cfg(not(loopwork_loom))]
        if let Some((waiter, leaf)) = self.prev {
            // Before the entry (and its slot) goes below.
            let _ = WAITER.try_with(|w| w.set(waiter));
            let _ = WAITER_LEAF.try_with(|w| w.set(leaf));
        }
        #[cfg(not(loopwork_loom))]
        {
            let index = (self.node & !THREAD_NODE) as usize;
            let mut waiters = WAITERS.lock();
            waiters[index] = None;
            while waiters.last().is_some_and(Option::is_none) {
                waiters.pop();
            }
        }
    }
}

/// The foreign waiter behind node `node`, if it is still blocked. Under
/// loom no foreign waiter is recorded (the graph is off).
pub(crate) fn waiter(node: u64) -> Option<Waiter> {
    #[cfg(loopwork_loom)]
    {
        let _ = node;
        None
    }
    #[cfg(not(loopwork_loom))]
    {
        if node & THREAD_NODE == 0 {
            return None;
        }
        let index = (node & !THREAD_NODE) as usize;
        let waiters = WAITERS.lock();
        let entry = waiters.get(index)?.as_ref()?;
        let mut waiter = entry.waiter.clone();
        waiter.leaf = entry.slot.as_ref().and_then(|s| s.get());
        Some(waiter)
    }
}

/// The nodes of the threads blocked in a `block_on` of runtime `owner`
/// (none under loom).
pub(crate) fn block_on_nodes(owner: usize) -> Vec<u64> {
    #[cfg(loopwork_loom)]
    {
        let _ = owner;
        Vec::new()
    }
    #[cfg(not(loopwork_loom))]
    {
        let waiters = WAITERS.lock();
        waiters
            .iter()
            .enumerate()
            .filter(|(_, e)| e.as_ref().is_some_and(|e| e.waiter.owner == owner))
            .map(|(i, _)| THREAD_NODE | i as u64)
            .collect()
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;

    /// A scheduler that drops what it is handed (the tests below only
    /// need task headers).
    struct Nowhere;

    impl crate::task::Schedule for Nowhere {
        fn schedule(&self, _task: crate::task::Notified) {}
    }

    fn a_task(kind: crate::task::TaskKind) -> (crate::task::Notified, crate::task::Task<()>) {
        let meta = crate::task::TaskMeta::new(None, Location::caller(), kind);
        crate::task::new_task(async {}, Nowhere, meta)
    }

    #[test]
    fn after_a_poll_the_thread_has_no_current_task_again() {
        let (n, _t) = a_task(crate::task::TaskKind::Stealable);
        assert_eq!(current_task_id(), 0);
        let prev = enter(n.header());
        assert_eq!(current_task_id(), n.header().meta.id.as_u64());
        leave(prev);
        assert_eq!(current_task_id(), 0, "the polled task is still current");
    }

    #[test]
    fn awaiting_outside_any_task_keeps_the_edge_of_the_real_awaiter() {
        let (n, _t) = a_task(crate::task::TaskKind::Stealable);
        n.header().trace.awaited_by.store(7, Relaxed);
        awaiting(n.header(), LeafKind::Join);
        assert_eq!(n.header().trace.awaited_by(), 7);
    }

    #[test]
    fn a_blocked_thread_is_a_node_with_a_leaf_of_its_own_until_the_wait_ends() {
        let owner = usize::MAX - 3; // no runtime's
        let w = BlockingWait::enter("block_on", Location::caller()).awaiting_here(owner);
        let node = w.node();
        assert!(block_on_nodes(owner).contains(&node));
        assert!(waiter(node).is_some());
        assert!(
            waiter(node & !THREAD_NODE).is_none(),
            "a task id is not a thread node"
        );
        set_leaf(LeafKind::Sleep, 5, None);
        let kind = |n| waiter(n).and_then(|w| w.leaf).map(|l| l.kind);
        assert_eq!(kind(node), Some(LeafKind::Sleep));
        block_on_poll_starts();
        assert_eq!(kind(node), None, "the last poll's leaf is cleared");
        drop(w);
        assert!(waiter(node).is_none());
        assert!(!block_on_nodes(owner).contains(&node));
    }

    #[test]
    fn a_blocking_job_runs_until_it_ends_and_an_exited_threads_slot_goes() {
        let (n, _t) = a_task(crate::task::TaskKind::Blocking);
        let id = n.header().meta.id.as_u64();
        blocking_job_starts(n.header());
        assert!(running_job(id).is_some());
        // Another thread starts a job and exits: its slot goes with it,
        // and this thread's stays.
        let (m, _u) = a_task(crate::task::TaskKind::Blocking);
        let other = m.header().meta.id.as_u64();
        std::thread::spawn(move || blocking_job_starts(m.header()))
            .join()
            .unwrap();
        assert!(running_job(other).is_none(), "an exited thread's job");
        assert!(running_job(id).is_some(), "this thread's job was dropped");
        blocking_job_ends();
        assert!(running_job(id).is_none(), "a finished job still runs");
    }

    #[test]
    fn every_leaf_kind_reads_back_as_set_and_a_cleared_slot_reads_empty() {
        let site = Location::caller();
        let kinds = [
            LeafKind::Sleep,
            LeafKind::Read,
            LeafKind::Write,
            LeafKind::Accept,
            LeafKind::Promise,
            LeafKind::Join,
            LeafKind::Concurrent,
            LeafKind::WaitFor,
            LeafKind::Blocking,
        ];
        let slot = LeafSlot::new();
        assert!(slot.get().is_none(), "a new slot holds no leaf");
        for (i, kind) in kinds.into_iter().enumerate() {
            let payload = 1000 + i as u64;
            slot.set(kind, payload, Some(site));
            let leaf = slot.get().unwrap_or_else(|| panic!("{kind:?} lost"));
            assert_eq!(
                (leaf.kind as u8, leaf.payload, leaf.location),
                (kind as u8, payload, Some(site))
            );
        }
        slot.clear();
        assert!(slot.get().is_none(), "cleared");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_coarse_clock_is_the_monotonic_coarse_clock_in_milliseconds() {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        let expected = (ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000) as u32;
        // Read right after: the same or a later tick (a second of slack for
        // a thread descheduled in between).
        let got = coarse_now_ms();
        assert!(got.wrapping_sub(expected) < 1000, "{got} vs {expected}");
    }

    #[test]
    fn a_task_made_off_a_loop_thread_is_stamped_with_the_clock_not_zero() {
        let t = TaskTrace::new();
        // Any machine that built this test has been up longer than this.
        assert!(
            t.age(coarse_now_ms()) < Duration::from_secs(5),
            "{:?}",
            t.age(coarse_now_ms())
        );
    }

    #[test]
    fn deadlines_round_trip_through_a_leaf_payload_to_the_millisecond() {
        let d = Instant::now() + Duration::from_millis(1500);
        let back = payload_deadline(deadline_payload(d));
        let diff = if back > d { back - d } else { d - back };
        assert!(diff < Duration::from_millis(2), "{diff:?}");
    }

    #[test]
    fn ages_and_idle_times_read_across_the_32_bit_wrap_and_idle_never_exceeds_age() {
        let t = TaskTrace::new();
        let t = TaskTrace {
            created_ms: u32::MAX - 100,
            ..t
        };
        // The clock wrapped 50 ms after a poll that started 20 ms after the spawn.
        t.poll_started(u32::MAX - 80);
        let now = 49;
        assert_eq!(t.age(now), Duration::from_millis(150));
        assert_eq!(t.since_poll(now), Duration::from_millis(130));
        // A stamp taken before the spawn (the loop's iteration began
        // earlier) is clamped to the age.
        t.poll_started(u32::MAX - 200);
        assert_eq!(t.since_poll(now), Duration::from_millis(150));
    }

    #[test]
    fn a_blocking_wait_is_listed_until_it_ends() {
        let wait = BlockingWait::enter("Handle::block_on", Location::caller());
        let node = wait.node();
        assert_eq!(waiter(node).expect("listed").api, "Handle::block_on");
        drop(wait);
        assert!(waiter(node).is_none(), "removed when the wait ends");
    }
}
