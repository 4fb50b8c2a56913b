//! The model of a projection's `#[handlers]` impl block: its `#[on]` handlers and its
//! `#[query]` methods, built while checking every rule.

use quote::format_ident;
use syn::{FnArg, Ident, LitStr, ReturnType, Type, Visibility};

use super::{
    Role, block_type, cfgs, check_receiver, common_signature_checks, event_param, field, is_ref_to, role, typed_params,
    unit_or_result,
};
use crate::ast::{HandlersImpl, Member, Method};
use crate::attr::{self, HandlersArgs};
use crate::ctxt::Ctxt;
use crate::names::pascal_case;

/// A projection as its `#[handlers]` block describes it.
pub struct ProjectionModel {
    pub ident: Ident,
    pub self_ty: Type,
    pub vis: Visibility,
    pub query_enum: Ident,
    pub answer_enum: Ident,
    pub handlers: Vec<On>,
    pub queries: Vec<Query>,
}

/// An `#[on]` method.
pub struct On {
    pub method: Ident,
    pub event_ty: Type,
    pub key: Ident,
    /// `#[on(aggregate = "...")]`: only events of this aggregate type.
    pub aggregate: Option<LitStr>,
    /// It takes `&EventMeta` as a second parameter.
    pub with_meta: bool,
    /// It returns a `Result`.
    pub fallible: bool,
    pub cfgs: Vec<syn::Attribute>,
}

/// A `#[query]` method.
pub struct Query {
    pub method: Ident,
    pub variant: Ident,
    pub fields: Vec<(Ident, Box<Type>)>,
    pub output: Type,
    pub docs: Vec<syn::Attribute>,
    pub cfgs: Vec<syn::Attribute>,
}

pub fn projection(cx: &Ctxt, args: &HandlersArgs, item: &HandlersImpl) -> Option<ProjectionModel> {
    let ident = block_type(cx, item, "projection", "Balances")?;
    let mut handlers: Vec<On> = Vec::new();
    let mut queries: Vec<Query> = Vec::new();
    for member in &item.members {
        let Member::Method(method) = member else { continue };
        match role(cx, method) {
            // A block with both kinds is reported by `kind` and never modelled.
            Some((Role::Command | Role::Apply | Role::Deadline | Role::Rejected, _)) => {}
            Some((Role::On, _)) => {
                let Some(on) = on(cx, method) else { continue };
                if let Some(first) = handlers.iter().find(|h| h.key == on.key) {
                    cx.error_spanned_by(
                        &on.event_ty,
                        format!("`{}` already has an `#[on]` method: `{}`", on.key, first.method),
                    );
                    continue;
                }
                handlers.push(on);
            }
            Some((Role::Query, _)) => {
                let Some(query) = query(cx, method) else { continue };
                if let Some(first) = queries.iter().find(|q| q.variant == query.variant) {
                    cx.error_spanned_by(
                        &query.method,
                        format!(
                            "two queries would be the variant `{}` (`{}` and `{}`)",
                            query.variant, first.method, query.method
                        ),
                    );
                    continue;
                }
                queries.push(query);
            }
            None => {}
        }
    }
    // `#[handlers]` cannot see the struct, and an enum less visible than it would be a
    // private type in the public `impl` (E0446): `pub` unless the user narrows it.
    let vis = args.vis.clone().unwrap_or_else(|| syn::parse_quote!(pub));
    Some(ProjectionModel {
        query_enum: format_ident!("{}Query", ident, span = ident.span()),
        answer_enum: format_ident!("{}Answer", ident, span = ident.span()),
        ident,
        self_ty: item.self_ty.clone(),
        vis,
        handlers,
        queries,
    })
}

fn on(cx: &Ctxt, method: &Method) -> Option<On> {
    let sig = &method.sig;
    let name = &sig.ident;
    let attrs = attr::on_attrs(cx, &method.attrs);
    common_signature_checks(cx, method, "`#[on]` method");
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(asyncness, "an `#[on]` method cannot be `async`: it folds an event into the state");
    }
    check_receiver(
        cx,
        method,
        "the `#[on]` method",
        true,
        "an `#[on]` method takes `&mut self`: it changes the read model",
    );
    let fallible =
        unit_or_result(cx, &sig.output, "an `#[on]` method returns nothing, or `Result<(), E>` to stop the projection");
    let typed = typed_params(sig);
    let usage = format!(
        "`fn {name}(&mut self, event: &SomeEvent)` or `fn {name}(&mut self, event: &SomeEvent, meta: &EventMeta)`"
    );
    let (event, with_meta) = match typed.as_slice() {
        [event] => (event, false),
        [event, meta] => {
            if !is_ref_to(&meta.ty, "EventMeta") {
                cx.error_spanned_by(
                    &meta.ty,
                    format!("the second parameter of an `#[on]` method is `&EventMeta`: {usage}"),
                );
            }
            (event, true)
        }
        _ => {
            cx.error_spanned_by(name, format!("an `#[on]` method takes one event by reference: {usage}"));
            return None;
        }
    };
    let (event_ty, key) = event_param(cx, event, "an `#[on]` method")?;
    Some(On {
        method: name.clone(),
        event_ty,
        key,
        aggregate: attrs.aggregate,
        with_meta,
        fallible,
        cfgs: cfgs(&method.attrs),
    })
}

fn query(cx: &Ctxt, method: &Method) -> Option<Query> {
    let sig = &method.sig;
    let name = &sig.ident;
    common_signature_checks(cx, method, "query");
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(asyncness, "a query cannot be `async`: it reads the state in memory");
    }
    check_receiver(
        cx,
        method,
        "the query",
        false,
        "a query takes `&self`: it reads the read model and never changes it",
    );
    let mut fields = Vec::new();
    for arg in &sig.inputs {
        let FnArg::Typed(pat_type) = arg else { continue };
        if let Some(field) = field(cx, pat_type, "query", "") {
            fields.push(field);
        }
    }
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            if let Type::Reference(reference) = &**ty {
                cx.error_spanned_by(
                    reference,
                    "a query's answer is sent as a value (it may travel as JSON): return an owned type",
                );
            }
            (**ty).clone()
        }
    };
    Some(Query {
        method: name.clone(),
        variant: Ident::new(&pascal_case(&name.to_string()), name.span()),
        fields,
        output,
        docs: method.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect(),
        cfgs: cfgs(&method.attrs),
    })
}
