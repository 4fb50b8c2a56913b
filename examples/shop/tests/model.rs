//! The shop's event model, guarded and drawn: the stored shape of every event is locked in
//! `events.lock`, so that a field changed under an unchanged version fails here, in review,
//! and not when old orders stop decoding in production; `CATALOG.md` is the model as a page
//! and a diagram, and fails here when the code moved on without it.
//!
//! After a change on purpose: `FACTUM_BLESS=1 cargo test -p factum-shop --test model`, then
//! commit both files with the change.

use factum_shop::models::order::OrderPlaced;

#[test]
fn stored_events_keep_their_shape() {
    // The shop's models are linked into this test by naming one of them; every event the
    // crate defines is then in the registry.
    let _ = std::any::type_name::<OrderPlaced>();
    factum::schema::check("events.lock").unwrap();
}

#[test]
fn the_catalog_is_fresh() {
    let _ = std::any::type_name::<OrderPlaced>();
    factum::catalog::check("CATALOG.md").unwrap();
}

/// The top-level README shows the shop's diagram; it is the catalog's, as the code gives it.
#[test]
fn the_readme_shows_the_diagram_of_the_code() {
    let readme = std::fs::read_to_string("../../README.md").unwrap();
    let block = readme
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```mermaid block in README.md");
    assert_eq!(block, factum::catalog::mermaid(), "copy the diagram of examples/shop/CATALOG.md into README.md");
}
