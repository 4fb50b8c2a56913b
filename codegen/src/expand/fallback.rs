//! What a macro emits when the user's item has mistakes: the errors, and the items the user
//! names (the generated enums, the trait impls) with stub bodies, so that the user's own uses
//! of them, and rust-analyzer, see no follow-on errors (thiserror's `fallback.rs`). The
//! bodies are `unreachable!()`: the crate does not compile, so they never run. The user's own
//! impl block is emitted by the caller, as it is on success.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

use super::{handlers, projection};
use crate::model::aggregate::AggregateModel;
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
/// read, and stub `impl EventSet` and `impl Aggregate`; no compile-time checks.
pub(super) fn aggregate(m: &AggregateModel) -> TokenStream {
    let unreachable = quote!(::core::unreachable!());
    let command_enum = handlers::command_enum(m);
    let event_enum = handlers::event_enum(m);
    let event_set = handlers::event_set(
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
    quote! {
        #command_enum
        #event_enum
        #event_set
        #aggregate
    }
}

/// A projection's `#[handlers]` with mistakes: the query and answer enums, and a stub
/// `impl Projection` that subscribes to nothing; no compile-time checks.
pub(super) fn projection(m: &ProjectionModel) -> TokenStream {
    let unreachable = quote!(::core::unreachable!());
    let enums = projection::enums(m);
    let projection_impl = projection::projection_impl(m, &quote!(&[]), &unreachable, &unreachable);
    quote! {
        #enums
        #projection_impl
    }
}
