//! The shop's event model, guarded: the stored shape of every event is locked in
//! `events.lock`, so that a field changed under an unchanged version fails here, in review,
//! and not when old orders stop decoding in production.
//!
//! After adding an event or a version on purpose: `FACTUM_BLESS=1 cargo test -p factum-shop
//! --test model`, then commit the file with the change.

use factum_shop::models::order::OrderPlaced;

#[test]
fn stored_events_keep_their_shape() {
    // The shop's models are linked into this test by naming one of them; every event the
    // crate defines is then in the registry.
    let _ = std::any::type_name::<OrderPlaced>();
    factum::schema::check("events.lock").unwrap();
}
