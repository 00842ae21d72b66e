//! The flight recorder (debug mode): each loop's last scheduling events, in
//! a fixed-size ring that another thread can read while the loop runs.
//!
//! # Invariants
//! * **One writer**: only the loop's own thread records into its ring (the
//!   head is advanced by load + store, no read-modify-write). An event that
//!   concerns two loops is recorded by the loop whose thread saw it: a
//!   steal by the thief (naming its victim), a wake by the waking loop.
//! * **Bounded, no allocation per event**: [`CAPACITY`] records of four
//!   words (32 bytes), allocated once with the loop: 2 KiB per loop. An event
//!   overwrites the oldest one.
//! * **Readers never stop the writer**: each record is a small seqlock. The
//!   writer marks it busy, writes it, then publishes its index; a reader
//!   copies it and keeps the copy only if the index before and after the
//!   copy is the one it expects (see `Ring::read`). A reader racing the
//!   writer loses that record (it is being overwritten), never reads a torn
//!   one.
//! * The words are `std` atomics on purpose: the ring is a diagnostic, not
//!   a protocol, so the loom models (which build the scheduler) do not
//!   explore it.
//!
//! Event times are [`clock`](super::clock) ticks: a poll's start and end
//! reuse the reading the slow-poll timing makes anyway; other events read
//! the clock themselves (they are rare next to polls) except wakes, which
//! carry the loop's last reading (`≈`: at most one poll old).

use super::clock;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{fence, AtomicU64, Ordering::*};
use std::time::Duration;

/// Events kept per loop.
pub(crate) const CAPACITY: usize = 64;
/// A record's index while the writer rewrites it.
const BUSY: u64 = u64::MAX;

/// What a loop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// A task poll, recorded when it ends (the event's time), with how long
    /// it ran (in clock units: converted when the event is shown, not on the
    /// loop's hot path). It returned
    /// `Pending`, or completed (a value or a panic). The poll running now is
    /// in the loop's activity record, not here.
    Poll {
        task: u64,
        took: clock::Units,
        pending: bool,
    },
    /// A task was woken (or spawned) on this loop's thread and queued here.
    /// A task that yields is not recorded again: its poll ends `pending`
    /// and it is polled again.
    Wake { task: u64 },
    /// This loop took `count` tasks from sibling `from`'s deque.
    StealIn { from: u32, count: u64 },
    /// Sibling `to` took `count` tasks from this loop's deque. Never
    /// recorded by the loop itself (the thief records its `StealIn`): a
    /// reader merges the siblings' steals in (see `Scheduler::loop_events`).
    StealOut { to: u32, count: u64 },
    /// This loop took `count` tasks from the global injector.
    Injector { count: u64 },
    /// This loop drained `count` items handed over through its inbox.
    Inbox { count: u64 },
    /// This loop collected the I/O events of stalled sibling `from`.
    EventSteal { from: u32 },
    /// Parked in the poller's wait.
    Park,
    /// Back from the wait (`io`: it brought I/O events).
    Unpark { io: bool },
    /// Timers fired (sleeps woken, timed callbacks made ready).
    TimerFire { count: u64 },
    /// A callback started (its creation site).
    CallbackStart { site: &'static Location<'static> },
    /// The callback ended.
    CallbackEnd { site: &'static Location<'static> },
}

impl EventKind {
    fn encode(self) -> (u64, u64) {
        let (tag, small, arg): (u64, u32, u64) = match self {
            EventKind::Poll {
                task,
                took,
                pending,
            } => (u64::from(pending), took.0, task),
            EventKind::Wake { task } => (2, 0, task),
            EventKind::StealIn { from, count } => (3, from, count),
            EventKind::Injector { count } => (4, 0, count),
            EventKind::Inbox { count } => (5, 0, count),
            EventKind::EventSteal { from } => (6, from, 0),
            EventKind::Park => (7, 0, 0),
            EventKind::Unpark { io } => (8, u32::from(io), 0),
            EventKind::TimerFire { count } => (9, 0, count),
            EventKind::CallbackStart { site } => (10, 0, site as *const Location<'static> as u64),
            EventKind::CallbackEnd { site } => (11, 0, site as *const Location<'static> as u64),
            EventKind::StealOut { to, count } => (12, to, count),
        };
        (tag | u64::from(small) << 32, arg)
    }

    fn decode(word: u64, arg: u64) -> Option<EventKind> {
        let small = (word >> 32) as u32;
        // SAFETY: for the two callback kinds, `arg` was encoded from a
        // `&'static Location` by `encode`, and the seqlock check in
        // `Ring::read` guarantees the word and the argument come from the
        // same record, so it is that reference: valid forever.
        let site = || unsafe { &*(arg as usize as *const Location<'static>) };
        Some(match word as u32 {
            0 | 1 => EventKind::Poll {
                task: arg,
                took: clock::Units(small),
                pending: word as u32 == 1,
            },
            2 => EventKind::Wake { task: arg },
            3 => EventKind::StealIn {
                from: small,
                count: arg,
            },
            4 => EventKind::Injector { count: arg },
            5 => EventKind::Inbox { count: arg },
            6 => EventKind::EventSteal { from: small },
            7 => EventKind::Park,
            8 => EventKind::Unpark { io: small != 0 },
            9 => EventKind::TimerFire { count: arg },
            10 => EventKind::CallbackStart { site: site() },
            11 => EventKind::CallbackEnd { site: site() },
            12 => EventKind::StealOut {
                to: small,
                count: arg,
            },
            _ => return None,
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EventKind::Poll {
                task,
                took,
                pending,
            } => write!(
                f,
                "poll        task #{task} ran {} µs, {}",
                took.micros(),
                if pending { "pending" } else { "completed" }
            ),
            EventKind::Wake { task } => write!(f, "wake        task #{task} (queued here)"),
            EventKind::StealIn { from, count } => {
                write!(f, "steal in    {count} task(s) from loop {from}")
            }
            EventKind::StealOut { to, count } => {
                write!(f, "steal out   {count} task(s) taken by loop {to}")
            }
            EventKind::Injector { count } => {
                write!(f, "injector    {count} task(s) taken")
            }
            EventKind::Inbox { count } => write!(f, "inbox       {count} item(s) received"),
            EventKind::EventSteal { from } => {
                write!(f, "event steal I/O events of stalled loop {from}")
            }
            EventKind::Park => f.write_str("park"),
            EventKind::Unpark { io } => {
                write!(f, "unpark{}", if io { "      (I/O events)" } else { "" })
            }
            EventKind::TimerFire { count } => write!(f, "timers      {count} fired"),
            EventKind::CallbackStart { site } => {
                write!(f, "callback    scheduled at {site} starts")
            }
            EventKind::CallbackEnd { site } => write!(f, "callback    scheduled at {site} ends"),
        }
    }
}

/// One recorded event, as a reader sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// When, in [`clock`](super::clock) ticks.
    pub(crate) at: u64,
    /// How long before the read it happened.
    pub(crate) ago: Duration,
    pub(crate) kind: EventKind,
}

impl fmt::Display for Event {
    /// `  0.001204 s ago  poll start  task #7`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>11.6} s ago  {}", self.ago.as_secs_f64(), self.kind)
    }
}

/// Events as lines, oldest first, for a report.
pub(crate) struct EventList<'a>(pub(crate) &'a [Event]);

impl fmt::Display for EventList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("\n    (no events recorded)");
        }
        for e in self.0 {
            write!(f, "\n    {e}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Record {
    /// The event's index in the ring's history, or `BUSY`.
    index: AtomicU64,
    at: AtomicU64,
    word: AtomicU64,
    arg: AtomicU64,
}

/// One loop's ring (see the module docs).
pub(crate) struct Ring {
    /// How many events were ever recorded; written by the loop only.
    head: AtomicU64,
    records: Box<[Record]>,
}

impl Default for Ring {
    fn default() -> Self {
        Ring::new()
    }
}

impl Ring {
    pub(crate) fn new() -> Ring {
        Ring {
            head: AtomicU64::new(0),
            records: (0..CAPACITY).map(|_| Record::default()).collect(),
        }
    }

    /// Records an event. Only the loop's own thread calls this.
    #[inline]
    pub(crate) fn record(&self, at: u64, kind: EventKind) {
        let i = self.head.load(Relaxed);
        let r = &self.records[i as usize % CAPACITY];
        let (word, arg) = kind.encode();
        r.index.store(BUSY, Relaxed);
        // The seqlock's writer side: the busy mark is ordered before the
        // data stores (a reader that sees new data then sees the mark
        // or a later index in its second look, through its acquire fence).
        fence(Release);
        r.at.store(at, Relaxed);
        r.word.store(word, Relaxed);
        r.arg.store(arg, Relaxed);
        // Publishes the data with the index (pairs with the reader's
        // acquire load of the index).
        r.index.store(i, Release);
        self.head.store(i + 1, Release);
    }

    /// The last `n` events (at most [`CAPACITY`]), oldest first; `now` is
    /// the tick the `ago` figures are relative to. Any thread.
    pub(crate) fn read(&self, n: usize, now: u64) -> Vec<Event> {
        let head = self.head.load(Acquire);
        let n = (n.min(CAPACITY) as u64).min(head);
        let mut out = Vec::with_capacity(n as usize);
        for i in head - n..head {
            let r = &self.records[i as usize % CAPACITY];
            let before = r.index.load(Acquire);
            let (at, word, arg) = (
                r.at.load(Relaxed),
                r.word.load(Relaxed),
                r.arg.load(Relaxed),
            );
            // Orders the data loads before the second look at the index:
            // if the writer started over this record meanwhile, the
            // second look sees `BUSY` or a later index.
            fence(Acquire);
            let after = r.index.load(Relaxed);
            if before != i || after != i {
                continue; // overwritten while we read it: lost, not torn
            }
            if let Some(kind) = EventKind::decode(word, arg) {
                let ago = super::clock::to_duration(now.saturating_sub(at));
                out.push(Event { at, ago, kind });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_events_in_order() {
        let ring = Ring::new();
        for task in 0..(CAPACITY as u64 + 10) {
            ring.record(task, EventKind::Wake { task });
        }
        let events = ring.read(5, CAPACITY as u64 + 10);
        let tasks: Vec<_> = events
            .iter()
            .map(|e| match e.kind {
                EventKind::Wake { task } => task,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let last = CAPACITY as u64 + 9;
        assert_eq!(tasks, (last - 4..=last).collect::<Vec<_>>());
        assert_eq!(ring.read(1000, 0).len(), CAPACITY, "bounded");
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        let site = Location::caller();
        let kinds = [
            EventKind::Poll {
                task: 7,
                took: clock::Units(12),
                pending: true,
            },
            EventKind::Poll {
                task: 8,
                took: clock::Units(u32::MAX),
                pending: false,
            },
            EventKind::Wake { task: 3 },
            EventKind::StealIn { from: 2, count: 5 },
            EventKind::StealOut { to: 1, count: 3 },
            EventKind::Injector { count: 4 },
            EventKind::Inbox { count: 1 },
            EventKind::EventSteal { from: 1 },
            EventKind::Park,
            EventKind::Unpark { io: true },
            EventKind::TimerFire { count: 2 },
            EventKind::CallbackStart { site },
            EventKind::CallbackEnd { site },
        ];
        let ring = Ring::new();
        for k in kinds {
            ring.record(1, k);
        }
        let back: Vec<_> = ring.read(CAPACITY, 1).iter().map(|e| e.kind).collect();
        assert_eq!(back, kinds);
        let text = EventList(&ring.read(2, 1)).to_string();
        assert!(text.contains(&format!("scheduled at {site}")), "{text}");
    }

    #[test]
    fn a_reader_on_another_thread_never_sees_a_torn_record() {
        let ring = std::sync::Arc::new(Ring::new());
        let r2 = ring.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                // Each field encodes the same number: a torn record mixes two.
                r2.record(
                    i,
                    EventKind::StealIn {
                        from: i as u32,
                        count: i,
                    },
                );
            }
        });
        while !writer.is_finished() {
            for e in ring.read(CAPACITY, u64::MAX) {
                match e.kind {
                    EventKind::StealIn { from, count } => {
                        assert_eq!((u64::from(from), count), (e.at & 0xffff_ffff, e.at));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        writer.join().unwrap();
    }
}
