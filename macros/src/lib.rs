//! Procedural macros of factum. Use them through the `factum` crate, where they are
//! documented; the code they write lives in `factum-codegen`.

use proc_macro::TokenStream;

/// See `factum::Event`.
#[proc_macro_derive(Event, attributes(event, pii))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    factum_codegen::derive_event(input.into()).into()
}

/// See `factum::Aggregate`.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    factum_codegen::derive_aggregate(input.into()).into()
}

/// See `factum::Projection`.
#[proc_macro_derive(Projection, attributes(projection))]
pub fn derive_projection(input: TokenStream) -> TokenStream {
    factum_codegen::derive_projection(input.into()).into()
}

/// See `factum::ProcessManager`.
#[proc_macro_derive(ProcessManager, attributes(process))]
pub fn derive_process_manager(input: TokenStream) -> TokenStream {
    factum_codegen::derive_process_manager(input.into()).into()
}

/// See `factum::handlers`.
#[proc_macro_attribute]
pub fn handlers(args: TokenStream, input: TokenStream) -> TokenStream {
    factum_codegen::handlers(args.into(), input.into()).into()
}
