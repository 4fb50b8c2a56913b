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

/// `for<'__factum> E: EventBounds<'__factum>,` once per distinct event type, at the user's
/// token, for the `where` clause of every impl generated around a block's events. Inside the
/// impl the event's serde and value traits then hold, so a type without them is reported
/// once, at its struct (by `#[derive(Event)]`), and a type without any derive only as "not an
/// event", not again by each generated use. A `#[cfg]`'d handler's type gets no bound: a
/// `where` clause cannot carry `#[cfg]`, and the type may not exist.
fn event_bounds<'a>(events: impl IntoIterator<Item = (&'a syn::Type, &'a [syn::Attribute])>) -> TokenStream {
    let mut seen = Vec::new();
    let mut bounds = TokenStream::new();
    for (ty, cfgs) in events {
        let key = quote!(#ty).to_string();
        if !cfgs.is_empty() || seen.contains(&key) {
            continue;
        }
        seen.push(key);
        bounds.extend(quote_spanned!(ty.span()=> for<'__factum> #ty: ::factum::__private::EventBounds<'__factum>,));
    }
    bounds
}

/// `::factum::__private::EventInfo::<Event>`, at the user's token: the name and version of
/// an event for a `const` check, `None` for a type that is no event (reported elsewhere).
fn event_info(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::factum::__private::EventInfo::<#ty>)
}

/// A `const` block that fails compilation, at the event type, when an event is stored
/// under the same name as an earlier one of `owner`. It reads the names through
/// [`event_info`], so an event that is broken in another way adds nothing here.
fn unique_names(owner: &syn::Ident, events: &[(&syn::Ident, &syn::Type, &[syn::Attribute])]) -> TokenStream {
    if events.len() < 2 {
        return TokenStream::new();
    }
    let checks = events.iter().enumerate().skip(1).map(|(i, (key, ty, cfgs))| {
        let earlier = events[..i].iter().map(|(_, ty, cfgs)| {
            let event = event_info(ty);
            quote!(#(#cfgs)* #event::NAME)
        });
        let event = event_info(ty);
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
            #[allow(unused_imports)] // used only when a type is no event
            use ::factum::__private::NotAnEvent as _;
            #(#checks)*
        };
    }
}
