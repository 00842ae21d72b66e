//! Soak: 200k items from 4 foreign threads through the three thread-safe
//! doors, with random cancels of each kind, with and without a close
//! mid-stream. Every item is accounted for exactly once (see
//! `common::soak`); a watchdog fails the test if anything hangs.
//! `examples/soak.rs` runs the same at 10^7 items.

mod common;

use common::soak::{soak, SoakConfig};

const ITEMS: usize = 200_000;

#[test]
fn every_item_runs_once_or_is_cancelled_with_its_handle_agreeing() {
    let counts = common::within(120, "soak", || {
        soak(SoakConfig {
            items: ITEMS,
            threads: 4,
            loops: 2,
            cancel_one_in: 7,
            close_after: None,
        })
    });
    assert_eq!(
        counts.dropped + counts.refused,
        0,
        "no shutdown, nothing dropped: {counts:?}"
    );
    assert!(counts.cancelled > 0 && counts.ran > 0, "{counts:?}");
}

#[test]
fn a_close_mid_stream_loses_nothing_and_strands_nobody() {
    let counts = common::within(120, "soak-close", || {
        soak(SoakConfig {
            items: ITEMS,
            threads: 4,
            loops: 2,
            cancel_one_in: 7,
            close_after: Some(ITEMS / 2),
        })
    });
    assert_eq!(counts.total(), ITEMS);
    assert!(
        counts.refused > 0,
        "the close landed mid-stream: {counts:?}"
    );
}
