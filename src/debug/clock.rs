//! Debug mode's clock: a cheap monotonic tick count for timing every task
//! poll and callback.
//!
//! # Invariants
//! * Ticks are monotonic on one thread, and comparable across threads of
//!   one process (the invariant TSC is synchronised between cores; the
//!   fallback is `Instant`). A difference read across threads may come out
//!   slightly negative: every conversion saturates at zero.
//! * Only debug mode reads this clock; production never does (no clock
//!   read per poll).
//!
//! # Why not `Instant::now`
//! `Instant::now` is `clock_gettime(CLOCK_MONOTONIC)`: on the 2-CPU VM the
//! benchmarks run on it costs ≈ 50 ns (the vDSO reads the TSC, then scales
//! and orders it), half of a `yield_many` poll, and was most of debug
//! mode's cost (`perf`: `__vdso_clock_gettime` under `after_poll`). On
//! x86-64 with an invariant TSC (`cpuid 0x8000_0007`, EDX bit 8) this clock
//! is one `rdtsc` (≈ 15 ns there); the tick rate is calibrated once per
//! process against `Instant` over 2 ms, and ticks become durations only
//! when a figure is reported or compared (thresholds are converted to ticks
//! once). Elsewhere a tick is a nanosecond since a process-wide `Instant`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How the ticks of this process relate to time.
struct Calibration {
    /// Ticks are TSC cycles (else nanoseconds since `base`).
    tsc: bool,
    base: Instant,
    base_ticks: u64,
    /// Nanoseconds per tick, fixed point with 32 fractional bits.
    ns_per_tick_q32: u64,
}

static CALIBRATION: OnceLock<Calibration> = OnceLock::new();

#[inline]
fn calibration() -> &'static Calibration {
    match CALIBRATION.get() {
        Some(c) => c,
        None => calibrate(),
    }
}

#[cold]
fn calibrate() -> &'static Calibration {
    CALIBRATION.get_or_init(Calibration::measure)
}

/// Calibrates the clock now rather than in the first timed poll (2 ms,
/// once per process): called when debug mode is turned on.
pub(crate) fn init() {
    calibration();
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use std::arch::x86_64::__cpuid;
    // `cpuid` exists on every x86-64 CPU; the extended leaf is read only
    // if the maximum extended leaf says it exists.
    __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86-64 (user mode may read
    // the TSC unless the OS forbids it, which Linux does not by default).
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    unreachable!("no TSC on this architecture")
}

impl Calibration {
    fn measure() -> Calibration {
        let base = Instant::now();
        let fallback = Calibration {
            tsc: false,
            base,
            base_ticks: 0,
            ns_per_tick_q32: 1 << 32,
        };
        if !invariant_tsc() {
            return fallback;
        }
        // A TSC reading taken with an `Instant`: the midpoint of the two
        // TSC reads around it, from the tightest of a few tries, so a
        // preemption between the reads does not skew the rate.
        let pair = || {
            let mut best = (u64::MAX, base, 0);
            for _ in 0..5 {
                let a = rdtsc();
                let i = Instant::now();
                let b = rdtsc();
                if b.wrapping_sub(a) < best.0 {
                    best = (b.wrapping_sub(a), i, a + (b.wrapping_sub(a)) / 2);
                }
            }
            (best.1, best.2)
        };
        let (i0, t0) = pair();
        while i0.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        let (i1, t1) = pair();
        let ns = i1.duration_since(i0).as_nanos();
        let ticks = u128::from(t1.wrapping_sub(t0));
        if t1 <= t0 || ns == 0 {
            return fallback;
        }
        let q32 = (ns << 32) / ticks;
        match u64::try_from(q32) {
            Ok(q) if q > 0 => Calibration {
                tsc: true,
                base: i0,
                base_ticks: t0,
                ns_per_tick_q32: q,
            },
            _ => fallback,
        }
    }
}

/// The current tick count (see the module docs).
#[inline]
pub(crate) fn now() -> u64 {
    let c = calibration();
    if c.tsc {
        rdtsc()
    } else {
        u64::try_from(c.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A tick difference as a duration.
#[inline]
pub(crate) fn to_duration(ticks: u64) -> Duration {
    Duration::from_nanos(to_nanos(ticks))
}

/// A tick difference in nanoseconds (saturating).
#[inline]
pub(crate) fn to_nanos(ticks: u64) -> u64 {
    let ns = (u128::from(ticks) * u128::from(calibration().ns_per_tick_q32)) >> 32;
    ns.min(u128::from(u64::MAX)) as u64
}

/// A poll's duration as the flight recorder keeps it: ticks in units of
/// `1 << UNIT_SHIFT` (a shift on the loop's hot path, saturating at
/// `u32::MAX` units, over 20 minutes of TSC ticks), converted to time only
/// when the event is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Units(pub(crate) u32);

const UNIT_SHIFT: u32 = 10;

impl Units {
    /// `ticks` in units (saturating).
    #[inline]
    pub(crate) fn from_ticks(ticks: u64) -> Units {
        Units((ticks >> UNIT_SHIFT).min(u64::from(u32::MAX)) as u32)
    }

    /// The duration in whole microseconds (rounded down to a unit).
    pub(crate) fn micros(self) -> u64 {
        to_nanos(u64::from(self.0) << UNIT_SHIFT) / 1000
    }
}

/// A duration as a tick difference (for thresholds, converted once).
pub(crate) fn from_duration(d: Duration) -> u64 {
    let q = (d.as_nanos() << 32) / u128::from(calibration().ns_per_tick_q32);
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// How long ago tick `t` was (zero if it is not in the past).
pub(crate) fn since(t: u64) -> Duration {
    to_duration(now().saturating_sub(t))
}

/// The `Instant` of tick `t`.
pub(crate) fn instant_of(t: u64) -> Instant {
    let c = calibration();
    if t >= c.base_ticks {
        c.base + to_duration(t - c.base_ticks)
    } else {
        c.base
            .checked_sub(to_duration(c.base_ticks - t))
            .unwrap_or(c.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_a_duration_to_within_one_unit_and_saturate() {
        let d = Duration::from_millis(5);
        let micros = Units::from_ticks(from_duration(d)).micros();
        let unit = to_nanos(1 << UNIT_SHIFT) / 1000 + 1;
        assert!(5000 - micros <= unit, "5 ms read back as {micros} µs");
        assert_eq!(Units::from_ticks(u64::MAX), Units(u32::MAX));
        assert_eq!(Units::from_ticks(0).micros(), 0);
    }

    #[test]
    fn ticks_agree_with_instant_over_a_spin() {
        // A comparison of two clocks, not a timing assertion: a preemption
        // between two reads can skew one try, so any of ten may agree.
        let agree = (0..10).any(|_| {
            let (t0, i0) = (now(), Instant::now());
            while i0.elapsed() < Duration::from_millis(5) {
                std::hint::spin_loop();
            }
            let (t1, i1) = (now(), Instant::now());
            let real = i1 - i0;
            to_duration(t1 - t0).abs_diff(real) < real / 10
        });
        assert!(agree, "ticks never agreed with Instant within a tenth");
    }

    #[test]
    fn durations_round_trip_through_ticks() {
        let d = Duration::from_millis(250);
        let back = to_duration(from_duration(d));
        assert!(back.abs_diff(d) < Duration::from_micros(1), "{back:?}");
    }
}
