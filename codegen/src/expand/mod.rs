//! Code generation: one module per macro. Generated code names everything by absolute path
//! (`::factum::..`, `::core::..`), marks impls `#[automatically_derived]`, and keeps helper
//! items inside `const _: () = { .. };` so nothing leaks into the user's namespace.

pub mod aggregate;
pub mod event;
mod fallback;
pub mod handlers;
pub mod process;
pub mod projection;
mod shape;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// `#[doc = "..."]` lines for a generated item.
pub(crate) fn doc(lines: &[String]) -> TokenStream {
    lines.iter().map(|line| quote!(#[doc = #line])).collect()
}

/// The derives of a generated enum that travels as JSON (commands, queries, answers,
/// deadlines). Its payloads need not be `Eq` (floats are welcome), the enum is `pub` by our
/// choice, not the user's, so private payload types are no reason to warn, and its variants
/// are named after the user's methods or types, which may share a word: hence the
/// allowances.
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
        #[allow(clippy::derive_partial_eq_without_eq, clippy::enum_variant_names, private_interfaces)]
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

/// `::factum::__private::AsEvent::<Event>`: how the bodies of the impls generated around
/// events reach them. Those impls carry no bound on their events, so a user's own use of the
/// aggregate or projection never fails because of one; for a type that is no complete event
/// the members of `AsEvent` fall back to stubs (imported by [`with_event_fallback`]) and the
/// bodies add no error either. The mistake is reported once: by `#[derive(Event)]` at the
/// struct, or by [`event_checks`] at the user's token.
fn as_event(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::factum::__private::AsEvent::<#ty>)
}

/// `items` (impls whose bodies use [`as_event`]) inside `const _: () = { .. };`, beside the
/// import of the fallback members.
fn with_event_fallback(items: &TokenStream) -> TokenStream {
    quote! {
        const _: () = {
            #[allow(unused_imports)] // used only when a type is no complete event
            use ::factum::__private::AsEventFallback as _;
            #items
        };
    }
}

/// `for<'__factum> E: EventThreads<'__factum>,` once per distinct event type, at the user's
/// token: the one bound left on the impls around events, on those whose trait needs the
/// event enum to be `Send` and `Sync` (`EventSet`, and `Aggregate` through its `Event`). The
/// enum's auto traits follow its payloads', so without the bound a payload holding a `Cell`
/// would be reported by each of them in rustc's words besides its struct; with it, an event
/// that is not `Send` or `Sync` is reported at its struct only, unless the user's own code
/// asks for the aggregate (what no other mistake of an event does). A `#[cfg]`'d handler's
/// type gets no bound: a `where` clause cannot carry `#[cfg]`, and the type may not exist.
fn event_thread_bounds<'a>(events: impl IntoIterator<Item = (&'a syn::Type, &'a [syn::Attribute])>) -> TokenStream {
    let mut seen = Vec::new();
    let mut bounds = TokenStream::new();
    for (ty, cfgs) in events {
        let key = quote!(#ty).to_string();
        if !cfgs.is_empty() || seen.contains(&key) {
            continue;
        }
        seen.push(key);
        bounds.extend(quote_spanned!(ty.span()=> for<'__factum> #ty: ::factum::__private::EventThreads<'__factum>,));
    }
    bounds
}

/// Once per distinct event type, at the user's token and under the handler's `#[cfg]`s: the
/// check that it has an `impl Event` at all. It is asked inside a function that assumes the
/// traits `#[derive(Event)]` checks at the struct (`for<'__factum> E: EventBounds<'__factum>`,
/// never trivially false, and the function is never called), so an event that misses one
/// of them passes here and is reported at its struct only; a type without the derive is
/// reported here, once, as "not an event".
fn event_checks<'a>(events: impl IntoIterator<Item = (&'a syn::Type, &'a [syn::Attribute])>) -> TokenStream {
    // Keyed by the type and its `#[cfg]`s as written (an empty `#[cfg]` text: unconditional).
    let events: Vec<_> = events
        .into_iter()
        .map(|(ty, cfgs)| (quote!(#ty).to_string(), quote!(#(#cfgs)*).to_string(), ty, cfgs))
        .collect();
    let mut checks = TokenStream::new();
    for (i, (ty_key, cfg_key, ty, cfgs)) in events.iter().enumerate() {
        // An unconditional use of the type covers its `#[cfg]`'d ones; otherwise each
        // distinct `#[cfg]` gets a check of its own.
        let unconditional = |(other, other_cfgs, ..): &(String, String, &syn::Type, &[syn::Attribute])| {
            other == ty_key && other_cfgs.is_empty()
        };
        let covered = events[..i].iter().any(|(other, other_cfgs, ..)| other == ty_key && other_cfgs == cfg_key)
            || (!cfgs.is_empty() && events.iter().any(unconditional));
        if covered {
            continue;
        }
        let event = quote_spanned!(ty.span()=> <#ty as ::factum::Event>::NAME);
        checks.extend(quote! {
            #(#cfgs)*
            const _: () = {
                #[allow(dead_code)] // a check for the compiler, never called
                fn __is_event() -> &'static str
                where
                    for<'__factum> #ty: ::factum::__private::EventBounds<'__factum>,
                {
                    #event
                }
            };
        });
    }
    checks
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
