//! What a macro emits when the user's item has mistakes: the errors, and the items the user
//! names (the generated enums, the trait impls) with stub bodies, so that the user's own uses
//! of them, and rust-analyzer, see no follow-on errors (thiserror's `fallback.rs`). The
//! bodies are `unreachable!()`: the crate does not compile, so they never run. The user's own
//! impl block is emitted by the caller, as it is on success.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

use super::{handlers, process, projection};
use crate::model::aggregate::AggregateModel;
use crate::model::process::ProcessModel;
use crate::model::projection::ProjectionModel;

/// `#[derive(Event)]` with mistakes: `impl Event` with its name and version and a stub decoder.
pub(super) fn event(
    errors: &TokenStream,
    ident: &Ident,
    name: &LitStr,
    version: &Literal,
    bounds_check: &TokenStream,
) -> TokenStream {
    quote! {
        #errors
        #[automatically_derived]
        impl ::factum::Event for #ident
        where
            for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
        {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            fn decode(_: u32, _: &str) -> ::core::result::Result<Self, ::factum::DecodeError> {
                ::core::unreachable!()
            }
        }
        #bounds_check
    }
}

/// An aggregate's `#[handlers]` with mistakes: the enums with every variant that could be
/// read, stub `impl EventSet` and `impl Aggregate`, and the check that each event type is
/// one (a mistake of its own, shown with the others); no other compile-time checks.
pub(super) fn aggregate(m: &AggregateModel) -> TokenStream {
    let unreachable = quote!(::core::unreachable!());
    let command_enum = handlers::command_enum(m);
    let event_enum = handlers::event_enum(m);
    let event_impls = handlers::event_impls(
        m,
        &quote! {
            const NAMES: &'static [&'static str] = &[];
            fn name(&self) -> &'static str { ::core::unreachable!() }
            fn version(&self) -> u32 { ::core::unreachable!() }
            fn encode(&self) -> ::core::result::Result<::std::string::String, ::factum::EncodeError> {
                ::core::unreachable!()
            }
            fn decode(_: &str, _: u32, _: &str) -> ::core::result::Result<Self, ::factum::DecodeError> {
                ::core::unreachable!()
            }
        },
    );
    let aggregate = handlers::aggregate_impl(m, &unreachable, &unreachable);
    let event_checks = handlers::event_checks(m);
    quote! {
        #command_enum
        #event_enum
        #event_impls
        #aggregate
        #event_checks
    }
}

/// A projection's `#[handlers]` with mistakes: the query and answer enums, a stub
/// `impl Projection` that subscribes to nothing, and the check that each event type is one;
/// no other compile-time checks.
pub(super) fn projection(m: &ProjectionModel) -> TokenStream {
    let unreachable = quote!(::core::unreachable!());
    let enums = projection::enums(m);
    let projection_impl = projection::projection_impl(m, &quote!(&[]), &unreachable, &unreachable);
    let event_checks = projection::event_checks(m);
    quote! {
        #enums
        #projection_impl
        #event_checks
    }
}

/// A process manager's `#[handlers]` with mistakes: the deadline enum with its impls (so the
/// user's `steps.schedule(..)` still compiles), a stub `impl ProcessManager` that subscribes to
/// nothing, and the check that each event type is one; no other compile-time checks.
pub(super) fn process(m: &ProcessModel) -> TokenStream {
    let unreachable = quote!(::core::unreachable!());
    let deadlines = process::deadline_items(m);
    let on_rejected = m.rejected.as_ref().map(|rejected| process::rejected_fn(&rejected.cfgs, &unreachable));
    let process_impl =
        process::process_impl(m, &quote!(&[]), &unreachable, &unreachable, &unreachable, on_rejected.as_ref());
    let event_checks = process::event_checks(m);
    quote! {
        #deadlines
        #process_impl
        #event_checks
    }
}
