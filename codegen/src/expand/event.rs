//! `#[derive(Event)]` → `impl ::factum::Event`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, LitStr};

use super::{fallback, shape};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::model;

pub fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::new();
    let attrs = attr::event_attrs(&cx, &input.attrs);
    let subject = model::pii::subject(&cx, &input);
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "an event cannot be generic: its stored name and schema must not depend on a type parameter",
        );
    }
    if let Data::Union(data) = &input.data {
        cx.error_spanned_by(data.union_token, "an event is a struct or an enum, not a union");
    }

    let ident = &input.ident;
    let name = attrs.name.unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let version_number = attrs.version.unwrap_or(1);
    let version = proc_macro2::Literal::u32_unsuffixed(version_number);
    if !input.generics.params.is_empty() {
        return cx.into_compile_errors();
    }
    // Serde and the value traits are asked of the type once, at its name; the impl assumes
    // them, so neither it nor any generated use of the event reports them again.
    let bounds_check = quote_spanned! {ident.span()=>
        const _: () = ::factum::__private::assert_event_bounds::<#ident>();
    };
    if !cx.is_ok() {
        let errors = cx.into_compile_errors();
        return fallback::event(&errors, ident, &name, &version, &bounds_check);
    }

    let older = match &attrs.upcast_from {
        Some(old) => {
            // Spanned at `Old`, so a missing `From<Old>` is reported once, there.
            let upcast = quote_spanned! {old.span()=>
                <#old as ::factum::Event>::decode(version, payload).map(<Self as ::core::convert::From<#old>>::from)
            };
            let same_name = format!(
                "`upcast_from = {}`: an event upcasts only from an older version of itself, stored under the same name (`{}`)",
                quote!(#old),
                name.value()
            );
            let lower = format!(
                "`upcast_from = {}`: the older type must have a lower `version` than {version_number}",
                quote!(#old)
            );
            // Read through `EventInfo`: an older type that is no event, or lacks serde, is
            // reported once elsewhere, and these checks then pass.
            let checks = quote_spanned! {old.span()=>
                const _: () = {
                    #[allow(unused_imports)] // used only when a type is no event
                    use ::factum::__private::NotAnEvent as _;
                    if let ::core::option::Option::Some(__name) = ::factum::__private::EventInfo::<#old>::NAME {
                        ::factum::__private::require(::factum::__private::str_eq(__name, #name), #same_name);
                    }
                    if let ::core::option::Option::Some(__version) = ::factum::__private::EventInfo::<#old>::VERSION {
                        ::factum::__private::require(__version < #version, #lower);
                    }
                };
            };
            (
                quote! {
                    else if version < #version {
                        #upcast
                    }
                },
                checks,
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    let (upcast, checks) = older;
    let registration = shape::registration(&input, &name, &version, attrs.upcast_from.as_ref());
    // The older type is decoded inside the impl: bounded like `Self`, so an older type
    // without serde is reported at its own struct only.
    let older_bound = match &attrs.upcast_from {
        Some(old) => quote_spanned!(old.span()=> for<'__factum> #old: ::factum::__private::EventBounds<'__factum>,),
        None => TokenStream::new(),
    };
    // The subject is read where the event is encoded, so that its `Pii` values are written
    // for the store to seal with the subject's key; spanned at the field named, where a
    // subject that does not display is reported.
    let encode = subject.map(|subject| {
        let call = quote_spanned! {subject.span()=>
            ::factum::__private::encode_with_subject(self, &self.#subject)
        };
        quote! {
            fn encode(&self) -> ::core::result::Result<::std::string::String, ::factum::EncodeError> {
                #call
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl ::factum::Event for #ident
        where
            for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
            #older_bound
        {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;

            fn decode(version: u32, payload: &str) -> ::core::result::Result<Self, ::factum::DecodeError> {
                if version == #version {
                    ::factum::__private::decode_payload::<Self>(version, payload)
                }
                #upcast
                else {
                    ::core::result::Result::Err(::factum::__private::unknown_version::<Self>(version))
                }
            }
            #encode
        }
        #bounds_check
        #checks
        #registration
    }
}
