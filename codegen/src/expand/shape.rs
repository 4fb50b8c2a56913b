//! What the macros submit to `factum::registry`: `#[derive(Event)]` the event's stored shape
//! (its fields with their types as written, and the `serde` attributes, as text);
//! `#[handlers]` an aggregate's commands with the events each may return, a projection's
//! handlers and queries, and a process manager's handlers, the aggregates it sends to and its
//! deadlines. Each is a `static`, collected when the program starts.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Meta, Token, Type};

use super::as_event;
use crate::model::aggregate::{AggregateModel, Output};
use crate::model::process::ProcessModel;
use crate::model::projection::ProjectionModel;

/// The `inventory::submit!` of `input`'s shape, stored as `name` at `version`.
pub fn registration(input: &DeriveInput, name: &LitStr, version: &Literal, upcast_from: Option<&Type>) -> TokenStream {
    let ident = &input.ident;
    let ident_text = ident.to_string();
    let serde = serde_attrs(&input.attrs);
    let upcast = match upcast_from {
        Some(old) => {
            let old = compact(&old.to_token_stream().to_string());
            quote!(::core::option::Option::Some(#old))
        }
        None => quote!(::core::option::Option::None),
    };
    let body = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => {
                let fields = fields(&data.fields);
                quote!(::factum::registry::Body::Struct(&[#(#fields),*]))
            }
            Fields::Unnamed(_) => {
                let fields = fields(&data.fields);
                quote!(::factum::registry::Body::Tuple(&[#(#fields),*]))
            }
            Fields::Unit => quote!(::factum::registry::Body::Unit),
        },
        Data::Enum(data) => {
            let variants = data.variants.iter().map(|variant| {
                let name = variant.ident.to_string();
                let serde = serde_attrs(&variant.attrs);
                let fields = fields(&variant.fields);
                let tuple = matches!(variant.fields, Fields::Unnamed(_));
                quote! {
                    ::factum::registry::VariantShape { name: #name, serde: &[#(#serde),*], fields: &[#(#fields),*], tuple: #tuple }
                }
            });
            quote!(::factum::registry::Body::Enum(&[#(#variants),*]))
        }
        // Refused before this is reached.
        Data::Union(_) => quote!(::factum::registry::Body::Unit),
    };
    // A plain `static` beside the submission, so that the expansion reads as code.
    quote! {
        const _: () = {
            static SHAPE: ::factum::registry::EventShape = ::factum::registry::EventShape {
                name: #name,
                version: #version,
                rust_type: ::core::concat!(::core::module_path!(), "::", #ident_text),
                upcast_from: #upcast,
                serde: &[#(#serde),*],
                body: #body,
            };
            ::factum::__private::inventory::submit!(::factum::registry::Registered(&SHAPE));
        };
    }
}

/// The submission of an aggregate's shape: its commands with the stored names of the events
/// each may return, and the events it applies. Names are reached through `AsEvent` and
/// `StoredName`, so that a type without its derive (reported elsewhere) adds no error here.
pub fn aggregate_registration(m: &AggregateModel) -> TokenStream {
    let ident = m.ident.to_string();
    let self_ty = &m.self_ty;
    let applied: Vec<TokenStream> = m
        .applies
        .iter()
        .map(|apply| {
            let (event, cfgs) = (as_event(&apply.event_ty), &apply.cfgs);
            quote!(#(#cfgs)* #event::NAME)
        })
        .collect();
    let commands = m.commands.iter().map(|command| {
        let name = command.variant.to_string();
        let cfgs = &command.cfgs;
        let emits: Vec<TokenStream> = match &command.output {
            Output::Events => applied.clone(),
            output => output
                .event_types()
                .into_iter()
                .map(|ty| {
                    let event = as_event(ty);
                    quote!(#event::NAME)
                })
                .collect(),
        };
        quote!(#(#cfgs)* ::factum::registry::CommandShape { name: #name, emits: &[#(#emits),*] })
    });
    submission(quote! {
            static SHAPE: ::factum::registry::AggregateShape = ::factum::registry::AggregateShape {
                name: ::factum::__private::StoredName::<#self_ty>::AGGREGATE,
                rust_type: ::core::concat!(::core::module_path!(), "::", #ident),
                commands: &[#(#commands),*],
                events: &[#(#applied),*],
            };
            ::factum::__private::inventory::submit!(::factum::registry::RegisteredAggregate(&SHAPE));
    })
}

/// The submission of a projection's shape: the events its handlers read and its queries.
pub fn projection_registration(m: &ProjectionModel) -> TokenStream {
    let self_ty = &m.self_ty;
    let handlers = m.handlers.iter().map(|on| {
        let (event, cfgs) = (as_event(&on.event_ty), &on.cfgs);
        let aggregate = match &on.aggregate {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        quote!(#(#cfgs)* ::factum::registry::HandlerShape { event: #event::NAME, aggregate: #aggregate })
    });
    let queries = m.queries.iter().map(|query| {
        let (name, cfgs) = (query.variant.to_string(), &query.cfgs);
        quote!(#(#cfgs)* #name)
    });
    let ident = m.ident.to_string();
    submission(quote! {
            static SHAPE: ::factum::registry::ProjectionShape = ::factum::registry::ProjectionShape {
                name: ::factum::__private::StoredName::<#self_ty>::PROJECTION,
                rust_type: ::core::concat!(::core::module_path!(), "::", #ident),
                handlers: &[#(#handlers),*],
                queries: &[#(#queries),*],
            };
            ::factum::__private::inventory::submit!(::factum::registry::RegisteredProjection(&SHAPE));
    })
}

/// The submission of a process manager's shape: the events its handlers read, the
/// aggregates it sends commands to (from its `ProcessType`, through `ProcessIdentity`, so
/// that a type without the derive adds no error here) and its deadlines.
pub fn process_registration(m: &ProcessModel) -> TokenStream {
    let self_ty = &m.self_ty;
    let handlers = m.handlers.iter().map(|on| {
        let (event, cfgs) = (as_event(&on.event_ty), &on.cfgs);
        let aggregate = match &on.aggregate {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        quote!(#(#cfgs)* ::factum::registry::HandlerShape { event: #event::NAME, aggregate: #aggregate })
    });
    let deadlines = m.deadlines.iter().map(|deadline| {
        let (name, cfgs) = (deadline.variant.to_string(), &deadline.cfgs);
        quote!(#(#cfgs)* #name)
    });
    let ident = m.ident.to_string();
    submission(quote! {
            #[allow(unused_imports)] // used only when the type lacks its derive
            use ::factum::registry::NoProcessIdentity as _;
            static SHAPE: ::factum::registry::ProcessShape = ::factum::registry::ProcessShape {
                name: ::factum::registry::ProcessIdentity::<#self_ty>::NAME,
                rust_type: ::core::concat!(::core::module_path!(), "::", #ident),
                handlers: &[#(#handlers),*],
                sends: ::factum::registry::ProcessIdentity::<#self_ty>::SENDS,
                deadlines: &[#(#deadlines),*],
            };
            ::factum::__private::inventory::submit!(::factum::registry::RegisteredProcess(&SHAPE));
    })
}

/// `items` in a `const _` block, with the fallbacks of `AsEvent` and `StoredName` in scope.
fn submission(items: TokenStream) -> TokenStream {
    quote! {
        const _: () = {
            #[allow(unused_imports)] // used only when a type lacks its derive
            use ::factum::__private::{AsEventFallback as _, NoStoredName as _};
            #items
        };
    }
}

/// The `FieldShape`s of `fields`: named, or numbered from 0.
fn fields(fields: &Fields) -> Vec<TokenStream> {
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let name = field.ident.as_ref().map_or_else(|| index.to_string(), ToString::to_string);
            let ty = compact(&field.ty.to_token_stream().to_string());
            let serde = serde_attrs(&field.attrs);
            quote!(::factum::registry::FieldShape { name: #name, ty: #ty, serde: &[#(#serde),*] })
        })
        .collect()
}

/// Each item of every `#[serde(...)]` among `attrs`, as text (`rename = "x"`, `default`).
fn serde_attrs(attrs: &[Attribute]) -> Vec<String> {
    let mut items = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) => items.extend(metas.iter().map(|meta| compact(&meta.to_token_stream().to_string()))),
            // Serde reports what it cannot parse; the shape keeps the text as it is.
            Err(_) => {
                if let Meta::List(list) = &attr.meta {
                    items.push(compact(&list.tokens.to_string()));
                }
            }
        }
    }
    items
}

/// Token text with spaces only where Rust needs them: `Option < Vec < u8 > >` →
/// `Option<Vec<u8>>`, `[u8 ; 4]` → `[u8; 4]`, `& 'a str` → `&'a str`.
fn compact(text: &str) -> String {
    let tight = |c: char| matches!(c, '<' | '>' | ':' | '(' | ')' | '[' | ']' | '&' | ',' | ';' | '.');
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // Inside a string literal every character stays, escapes included.
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            (in_string, escaped) = match (escaped, c) {
                (true, _) => (true, false),
                (false, '\\') => (true, true),
                (false, '"') => (false, false),
                (false, _) => (true, false),
            };
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == ' ' {
            let before = out.chars().last();
            let after = chars.peek().copied();
            let keep = match (before, after) {
                (Some(',' | ';'), _) => true,
                (Some(b), Some(a)) => !(tight(b) || tight(a)),
                _ => false,
            };
            if keep {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn types_read_as_written() {
        for (tokens, written) in [
            ("Option < Vec < u8 > >", "Option<Vec<u8>>"),
            ("[u8 ; 4]", "[u8; 4]"),
            ("& 'static str", "&'static str"),
            (
                "std :: collections :: BTreeMap < String , (u64 , bool) >",
                "std::collections::BTreeMap<String, (u64, bool)>",
            ),
            ("Box < dyn Fn () >", "Box<dyn Fn()>"),
            ("rename_all = \"camelCase\"", "rename_all = \"camelCase\""),
            ("bound = \"T : Serialize , \\\" x\"", "bound = \"T : Serialize , \\\" x\""),
        ] {
            assert_eq!(compact(tokens), written);
        }
    }
}
