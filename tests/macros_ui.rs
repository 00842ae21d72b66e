//! The compile errors of `#[loopwork::main]` / `#[loopwork::test]` for bad
//! input: each `tests/ui/*.rs` must fail to compile with exactly the
//! message and span in its `.stderr` file (regenerate them with
//! `TRYBUILD=overwrite cargo test --test macros_ui` after a deliberate
//! change, and review the diff).

#[test]
fn macro_input_errors_are_compile_errors_pointing_at_the_users_tokens() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
