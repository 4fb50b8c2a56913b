//! The code generation behind factum's macros, on `proc_macro2` so that it can be tested and
//! snapshot without a compiler round-trip. `factum-macros` is a thin shim over the five
//! functions below.
//!
//! Every macro runs the same pipeline, one module a stage:
//!
//! | stage | module | what it holds |
//! |---|---|---|
//! | attributes | [`symbol`], `attr` | keyword constants; typed attribute structs, unknown-key and misspelled-marker suggestions |
//! | parse | `ast` | the user's items, method bodies kept as opaque tokens |
//! | model + checks | `model/` | one module per kind of `#[handlers]` block (aggregate, projection, process manager) and the rules they share; errors collected in a [`ctxt::Ctxt`] |
//! | generate | `expand/` | one module per macro, one `quote!` per generated item |
//! | on error | `expand/fallback` | the enums and impls with stub bodies, so one mistake does not cascade |

#![forbid(unsafe_code)]

mod ast;
mod attr;
pub mod ctxt;
mod expand;
mod model;
mod names;
pub mod symbol;

use proc_macro2::TokenStream;

/// `#[derive(Event)]`: implements `factum::Event`.
pub fn derive_event(input: TokenStream) -> TokenStream {
    expand::event::derive(input)
}

/// `#[derive(Aggregate)]`: implements `factum::AggregateType`.
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    expand::aggregate::derive(input)
}

/// `#[derive(Projection)]`: implements `factum::ProjectionType`.
pub fn derive_projection(input: TokenStream) -> TokenStream {
    expand::projection::derive(input)
}

/// `#[derive(ProcessManager)]`: implements `factum::process::ProcessType` and `Sends<A>` for
/// each aggregate of `sends`.
pub fn derive_process_manager(input: TokenStream) -> TokenStream {
    expand::process::derive(input)
}

/// `#[handlers]` on an aggregate's, a projection's or a process manager's impl block: the
/// generated enums and `impl factum::Aggregate`, `Projection` or `process::ProcessManager`.
pub fn handlers(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::handlers::expand(args, input)
}
