//! Code generation: one module per macro. Generated code names everything by absolute path
//! (`::factum::..`, `::core::..`), marks impls `#[automatically_derived]`, and keeps helper
//! items inside `const _: () = { .. };` so nothing leaks into the user's namespace.

pub mod aggregate;
pub mod event;
mod fallback;
pub mod handlers;
pub mod projection;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

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

/// `<Event as ::factum::Event>`, at the user's token, so that a type without
/// `#[derive(Event)]` is reported once, where the user wrote it.
fn as_event(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::factum::Event>)
}

/// A `const` block that fails compilation, at the event type, when an event is stored
/// under the same name as an earlier one of `owner`.
fn unique_names(owner: &syn::Ident, events: &[(&syn::Ident, &syn::Type, &[syn::Attribute])]) -> TokenStream {
    if events.len() < 2 {
        return TokenStream::new();
    }
    let checks = events.iter().enumerate().skip(1).map(|(i, (key, ty, cfgs))| {
        let earlier = events[..i].iter().map(|(_, ty, cfgs)| {
            let event = as_event(ty);
            quote!(#(#cfgs)* #event::NAME)
        });
        let event = as_event(ty);
        let message = format!(
            "`{key}` is stored under the same name as an earlier event of `{owner}`; give one of them `#[event(name = \"...\")]`"
        );
        quote_spanned! {ty.span()=>
            #(#cfgs)*
            ::factum::__private::require(
                !::factum::__private::contains_name(&[#(#earlier),*], #event::NAME),
                #message,
            );
        }
    });
    quote! {
        const _: () = {
            #(#checks)*
        };
    }
}
