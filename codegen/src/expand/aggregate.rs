//! `#[derive(Aggregate)]` → `impl ::factum::AggregateType`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Data, DeriveInput, LitStr};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::names::{fingerprint, kebab_case};

pub fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::new();
    let attrs = attr::aggregate_attrs(&cx, &input.attrs);
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "generic aggregates are not supported: an aggregate type has one stored name",
        );
    }
    match &input.data {
        Data::Struct(_) => {}
        Data::Enum(data) => cx.error_spanned_by(
            data.enum_token,
            "an aggregate's state is a struct; an enum of phases can be a field of it",
        ),
        Data::Union(data) => cx.error_spanned_by(data.union_token, "an aggregate's state is a struct, not a union"),
    }

    let ident = &input.ident;
    let name = attrs.name.unwrap_or_else(|| LitStr::new(&kebab_case(&ident.to_string()), ident.span()));
    let snapshot_every = match &attrs.snapshot_every {
        Some((n, _)) => {
            let n = proc_macro2::Literal::u64_unsuffixed(*n);
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    // Snapshots need serde; the calls are spanned at `snapshot_every = N`, so a state type
    // without `Serialize`/`Deserialize` is reported there.
    let snapshot_fns = match &attrs.snapshot_every {
        Some((_, lit)) => quote_spanned! {lit.span()=>
            const SNAPSHOT: ::core::option::Option<::factum::SnapshotCodec<Self>> =
                ::core::option::Option::Some(::factum::__private::snapshot_codec::<Self>());
        },
        None => TokenStream::new(),
    };
    // The definition of the state, as tokens: a snapshot written by another shape of the
    // struct carries another fingerprint and is ignored in favour of a replay.
    let shape = proc_macro2::Literal::u64_unsuffixed(fingerprint(&shape_of(&input)));
    let default_check = quote_spanned! {ident.span()=>
        const _: () = ::factum::__private::assert_aggregate_default::<#ident>();
    };
    let errors = cx.into_compile_errors();
    if !input.generics.params.is_empty() {
        return errors;
    }
    quote! {
        #errors
        #[automatically_derived]
        impl ::factum::AggregateType for #ident {
            const NAME: &'static str = #name;
            const SNAPSHOT_EVERY: ::core::option::Option<u64> = #snapshot_every;
            const FINGERPRINT: u64 = #shape;
            #snapshot_fns
        }
        #default_check
    }
}

/// The fields with their types and serde attributes: what decides a snapshot's shape.
fn shape_of(input: &DeriveInput) -> String {
    let mut text = input.ident.to_string();
    if let Data::Struct(data) = &input.data {
        for field in &data.fields {
            for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
                text.push_str(&attr.to_token_stream().to_string());
            }
            if let Some(ident) = &field.ident {
                text.push_str(&ident.to_string());
            }
            text.push(':');
            text.push_str(&field.ty.to_token_stream().to_string());
            text.push(';');
        }
    }
    text
}
