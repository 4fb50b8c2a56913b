//! Code generation: one module per macro. Generated code names everything by absolute path
//! (`::factum::..`, `::core::..`), marks impls `#[automatically_derived]`, and keeps helper
//! items inside `const _: () = { .. };` so nothing leaks into the user's namespace.

pub mod aggregate;
pub mod event;
pub mod handlers;
pub mod projection;

use proc_macro2::TokenStream;
use quote::quote;

/// `#[doc = "..."]` lines for a generated item.
pub(crate) fn doc(lines: &[String]) -> TokenStream {
    lines.iter().map(|line| quote!(#[doc = #line])).collect()
}
