//! `#[derive(ProcessManager)]` → `impl ::factum::process::ProcessType` (its name, the
//! aggregates it sends to and their repositories) and one `impl Sends<A>` per aggregate;
//! `#[handlers]` on a process manager's impl block → `{Process}Deadline` with
//! `impl Deadlines` and one `impl DeadlineOf` per deadline type, and
//! `impl ::factum::process::ProcessManager` (subscription, routing, typed decoding, dispatch).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, LitStr};

use super::{as_event, doc, serde_enum_derives, unique_names, with_event_fallback};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::model::process::{Deadline, On, ProcessModel, Rejected};
use crate::names::kebab_case;

pub fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::new();
    let attrs = attr::process_attrs(&cx, &input.attrs);
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "generic process managers are not supported: a process manager has one stored name",
        );
    }
    if let Data::Union(data) = &input.data {
        cx.error_spanned_by(data.union_token, "a process manager's state is a struct or an enum, not a union");
    }
    let errors = cx.into_compile_errors();
    if !input.generics.params.is_empty() {
        return errors;
    }
    let ident = &input.ident;
    let name = attrs.name.unwrap_or_else(|| LitStr::new(&kebab_case(&ident.to_string()), ident.span()));
    let sends = &attrs.sends;
    let names: Vec<TokenStream> =
        sends.iter().map(|ty| quote_spanned!(ty.span()=> <#ty as ::factum::AggregateType>::NAME)).collect();
    let targets = sends.iter().map(|ty| quote_spanned!(ty.span()=> ::std::sync::Arc<::factum::Repository<#ty, S>>));
    let branches = sends.iter().zip(&names).enumerate().map(|(index, (ty, name))| {
        let index = syn::Index { index: index as u32, span: ty.span() };
        quote_spanned! {ty.span()=>
            if __command.aggregate_type == #name {
                return ::factum::__private::dispatch_to(&*__targets.#index, __command).await;
            }
        }
    });
    // Each aggregate of `sends` is assumed inside the impl, so one that is not an aggregate
    // is reported by its check below, at the user's token, and not by every use of it here.
    let bounds = sends
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> for<'__factum> #ty: ::factum::__private::ProcessTarget<'__factum>,));
    let where_clause = if sends.is_empty() { quote!() } else { quote!(where #(#bounds)*) };
    let sends_impls = sends.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            #[automatically_derived]
            impl ::factum::process::Sends<#ty> for #ident {}
        }
    });
    let checks = sends
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> const _: () = ::factum::__private::assert_process_target::<#ty>();));
    let state_check = quote_spanned! {ident.span()=>
        const _: () = ::factum::__private::assert_process_state::<#ident>();
    };
    quote! {
        #errors
        #[automatically_derived]
        impl ::factum::process::ProcessType for #ident
        #where_clause
        {
            const NAME: &'static str = #name;
            const SENDS: &'static [&'static str] = &[#(#names),*];

            type Targets<S: ::factum::EventStore> = (#(#targets,)*);

            fn dispatch<S: ::factum::EventStore>(
                __targets: &Self::Targets<S>,
                __command: &::factum::process::OutgoingCommand,
            ) -> impl ::core::future::Future<Output = ::factum::process::Dispatched> + ::core::marker::Send {
                async move {
                    #(#branches)*
                    ::factum::__private::unknown_target(__command, Self::SENDS)
                }
            }
        }
        #(#sends_impls)*
        #state_check
        #(#checks)*
    }
}

/// Everything `#[handlers]` adds to a process manager's block without mistakes (with
/// mistakes, see [`super::fallback::process`]).
pub fn generate(m: &ProcessModel) -> TokenStream {
    let deadlines = deadline_items(m);
    let names = m.handlers.iter().map(|On { event_ty, cfgs, .. }| {
        let event = as_event(event_ty);
        quote!(#(#cfgs)* #event::NAME)
    });
    let route_arms = m.handlers.iter().map(route_arm);
    let event_arms = m.handlers.iter().map(on_arm);
    let deadline_enum = &m.deadline_enum;
    let deadline_arms = m.deadlines.iter().map(|Deadline { method, variant, with_steps, fallible, cfgs, .. }| {
        let args = if *with_steps { quote!(__deadline, __steps) } else { quote!(__deadline) };
        let call = call(method, &args, *fallible);
        quote! {
            #(#cfgs)*
            #deadline_enum::#variant(__deadline) => {
                #call
                ::core::result::Result::Ok(())
            }
        }
    });
    let on_deadline = if m.deadlines.is_empty() {
        quote!(match __deadline {})
    } else {
        quote!(match __deadline { #(#deadline_arms)* })
    };
    let on_rejected = m.rejected.as_ref().map(|Rejected { method, with_steps, fallible, cfgs }| {
        let args = if *with_steps { quote!(__rejected, __steps) } else { quote!(__rejected) };
        let call = call(method, &args, *fallible);
        rejected_fn(cfgs, &quote!(#call ::core::result::Result::Ok(())))
    });
    let process_impl = process_impl(
        m,
        &quote!(&[#(#names),*]),
        &quote! {
            let __meta = &__event.meta;
            match __meta.event_name.as_str() {
                #(#route_arms)*
                _ => ::core::result::Result::Ok(::core::option::Option::None),
            }
        },
        &quote! {
            let __meta = &__event.meta;
            match __meta.event_name.as_str() {
                #(#event_arms)*
                _ => ::core::result::Result::Ok(()),
            }
        },
        &on_deadline,
        on_rejected.as_ref(),
    );
    let event_checks = event_checks(m);
    let events: Vec<_> = m.handlers.iter().map(|h| (&h.key, &h.event_ty, h.cfgs.as_slice())).collect();
    let checks = unique_names(&m.ident, &events);
    let registration = super::shape::process_registration(m);
    quote! {
        #deadlines
        #process_impl
        #event_checks
        #checks
        #registration
    }
}

/// `{Process}Deadline`, its `impl Deadlines`, and `impl DeadlineOf<Process>` for each
/// deadline type.
pub(super) fn deadline_items(m: &ProcessModel) -> TokenStream {
    let ProcessModel { ident, self_ty, vis, deadline_enum, .. } = m;
    let docs = doc(&[
        format!(" The deadlines of the process manager `{ident}`: one variant per `#[deadline]` method."),
        String::new(),
        " Generated by `#[handlers]`. Stored as JSON with the instance that set it.".to_owned(),
    ]);
    let variants = m.deadlines.iter().map(|Deadline { method, ty, variant, cfgs, .. }| {
        let docs = doc(&[format!(" Handled by `{ident}::{method}`.")]);
        quote!(#docs #(#cfgs)* #variant(#ty))
    });
    let kind_arms = m.deadlines.iter().map(|Deadline { variant, cfgs, .. }| {
        let kind = variant.to_string();
        quote!(#(#cfgs)* Self::#variant(_) => #kind,)
    });
    let on_self = if m.deadlines.is_empty() { quote!(*self) } else { quote!(self) };
    let deadline_of = m.deadlines.iter().map(|Deadline { ty, variant, cfgs, .. }| {
        let kind = variant.to_string();
        quote_spanned! {ty.span()=>
            #(#cfgs)*
            #[automatically_derived]
            impl ::factum::process::DeadlineOf<#self_ty> for #ty {
                const KIND: &'static str = #kind;

                #[inline]
                fn into_deadline(self) -> #deadline_enum {
                    #deadline_enum::#variant(self)
                }
            }
        }
    });
    let derives = serde_enum_derives();
    quote! {
        #docs
        #derives
        #vis enum #deadline_enum {
            #(#variants,)*
        }

        #[automatically_derived]
        impl ::factum::process::Deadlines for #deadline_enum {
            fn kind(&self) -> &'static str {
                match #on_self {
                    #(#kind_arms)*
                }
            }
        }

        #(#deadline_of)*
    }
}

/// The check, per event type, that it is an event at all (see [`super::event_checks`]).
pub(super) fn event_checks(m: &ProcessModel) -> TokenStream {
    super::event_checks(m.handlers.iter().map(|h| (&h.event_ty, h.cfgs.as_slice())))
}

/// `fn on_rejected` with the given body.
pub(super) fn rejected_fn(cfgs: &[syn::Attribute], body: &TokenStream) -> TokenStream {
    quote! {
        #(#cfgs)*
        fn on_rejected(
            &mut self,
            __rejected: &::factum::process::RejectedCommand,
            __steps: &mut ::factum::process::Steps<Self>,
        ) -> ::core::result::Result<(), ::factum::ApplyError> {
            #body
        }
    }
}

/// `impl ProcessManager` with the given subscription and bodies, unbounded in its events,
/// which its bodies reach through `AsEvent` (see [`as_event`]).
pub(super) fn process_impl(
    m: &ProcessModel,
    events: &TokenStream,
    route: &TokenStream,
    on_event: &TokenStream,
    on_deadline: &TokenStream,
    on_rejected: Option<&TokenStream>,
) -> TokenStream {
    let ProcessModel { self_ty, deadline_enum, .. } = m;
    // Spanned at the user's type: without `#[derive(ProcessManager)]` the missing supertrait
    // is reported once, there. No bound for `Default` and serde: the derive checks them at
    // the struct, and with a bound here each `Steps<Self>` of the user's would fail too.
    let process_impl = quote_spanned! {self_ty.span()=>
        #[automatically_derived]
        impl ::factum::process::ProcessManager for #self_ty {
            type Deadline = #deadline_enum;

            const EVENTS: &'static [&'static str] = #events;

            fn route(
                __event: &::factum::RecordedEvent,
            ) -> ::core::result::Result<::core::option::Option<::factum::process::Route>, ::factum::ApplyError> {
                #route
            }

            fn on_event(
                &mut self,
                __event: &::factum::RecordedEvent,
                __steps: &mut ::factum::process::Steps<Self>,
            ) -> ::core::result::Result<(), ::factum::ApplyError> {
                #on_event
            }

            fn on_deadline(
                &mut self,
                __deadline: Self::Deadline,
                __steps: &mut ::factum::process::Steps<Self>,
            ) -> ::core::result::Result<(), ::factum::ApplyError> {
                #on_deadline
            }

            #on_rejected
        }
    };
    with_event_fallback(&process_impl)
}

/// The guard of an arm of `route` and `on_event`: the stored name, and the aggregate.
fn guard(on: &On) -> TokenStream {
    let event = as_event(&on.event_ty);
    match &on.aggregate {
        Some(aggregate) => quote!(__name if __name == #event::NAME && __meta.aggregate_type == #aggregate),
        None => quote!(__name if __name == #event::NAME),
    }
}

/// `let __e = ..;`: the event decoded at its stored version, upcast to its type.
fn decode(on: &On) -> TokenStream {
    let event = as_event(&on.event_ty);
    quote!(let __e = #event::decode(__meta.event_version, &__event.payload)?;)
}

/// One arm of `route`: the instance key (the stream id, or the `correlate` field of the
/// decoded event, spanned at the user's field so a missing one is reported there).
fn route_arm(on: &On) -> TokenStream {
    let (guard, start, cfgs) = (guard(on), on.start, &on.cfgs);
    let (decode, instance) = match &on.correlate {
        Some(field) => (decode(on), quote_spanned!(field.span()=> ::std::string::ToString::to_string(&__e.#field))),
        None => (quote!(), quote!(::std::clone::Clone::clone(&__meta.stream_id))),
    };
    quote! {
        #(#cfgs)*
        #guard => {
            #decode
            ::core::result::Result::Ok(::core::option::Option::Some(::factum::process::Route {
                instance: #instance,
                start: #start,
            }))
        }
    }
}

/// One arm of `on_event`: decode with upcasting, call, and end the instance for `end`.
fn on_arm(on: &On) -> TokenStream {
    let On { method, with_meta, with_steps, fallible, end, cfgs, .. } = on;
    let (guard, decode) = (guard(on), decode(on));
    let mut args = quote!(&__e);
    if *with_meta {
        args.extend(quote!(, __meta));
    }
    if *with_steps {
        args.extend(quote!(, __steps));
    }
    let call = call(method, &args, *fallible);
    let end = end.then(|| quote!(__steps.end();));
    quote! {
        #(#cfgs)*
        #guard => {
            #decode
            #call
            #end
            ::core::result::Result::Ok(())
        }
    }
}

/// `self.method(args);`, with a fallible handler's error as `ApplyError::Handler`.
fn call(method: &syn::Ident, args: &TokenStream, fallible: bool) -> TokenStream {
    if fallible {
        quote! {
            self.#method(#args)
                .map_err(|__error| ::factum::ApplyError::Handler(::core::convert::Into::into(__error)))?;
        }
    } else {
        quote!(self.#method(#args);)
    }
}
