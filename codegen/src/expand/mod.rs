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

/// The derives of a generated enum that travels as JSON (commands, queries, answers). Its
/// payloads need not be `Eq` (floats are welcome), and the enum is `pub` by our choice, not
/// the user's, so private payload types are no reason to warn: hence the allowances.
fn serde_enum_derives() -> TokenStream {
    quote! {
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::factum::__private::serde::Serialize,
            ::factum::__private::serde::Deserialize
        )]
        #[serde(crate = "::factum::__private::serde")]
        #[allow(clippy::derive_partial_eq_without_eq, private_interfaces)]
    }
}

/// A struct-like variant (`Deposit { amount: u64 }`), or a unit variant when it has no
/// fields, with its docs and `#[cfg]`s.
fn enum_variant<'a>(
    docs: &TokenStream,
    cfgs: &[syn::Attribute],
    name: &syn::Ident,
    fields: impl IntoIterator<Item = (&'a syn::Ident, &'a syn::Type)>,
) -> TokenStream {
    let (names, types): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    if names.is_empty() { quote!(#docs #(#cfgs)* #name) } else { quote!(#docs #(#cfgs)* #name { #(#names: #types),* }) }
}
