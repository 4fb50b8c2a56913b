//! `#[derive(Event)]` → the event's stored shape, submitted to `factum::registry`: its
//! fields with their types as written, and the `serde` attributes, as text.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Meta, Token, Type};

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
