//! One switch for loom: the cargo feature `loom` turns on the same
//! `cfg(loopwork_loom)` that `RUSTFLAGS="--cfg loopwork_loom"` sets for
//! `loom-tests/`, so the code has a single condition to test.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loopwork_loom)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_LOOM").is_some() {
        println!("cargo::rustc-cfg=loopwork_loom");
    }
}
