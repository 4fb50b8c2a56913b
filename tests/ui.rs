//! Compile-time diagnostics: one misuse a file, its expected error beside it (`.stderr`).
//!
//! Bless new output deliberately with `TRYBUILD=overwrite cargo test --test ui`, then read
//! the diff: every error must point at the user's own token and say what to do.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
