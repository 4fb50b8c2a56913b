//! The model of a process manager's `#[handlers]` impl block: its `#[on]` handlers (with
//! `start`, `end` and `correlate`), its `#[deadline]` handlers and its `#[rejected]` one,
//! built while checking every rule.

use quote::format_ident;
use syn::{Attribute, Ident, LitStr, PatType, Type, Visibility};

use super::{
    Role, block_type, cfgs, check_receiver, common_signature_checks, event_key, event_param, is_ref_to, is_steps, role,
    typed_params, unit_or_result,
};
use crate::ast::{HandlersImpl, Member, Method};
use crate::attr::{self, HandlersArgs};
use crate::ctxt::Ctxt;

/// A process manager as its `#[handlers]` block describes it.
pub struct ProcessModel {
    pub ident: Ident,
    pub self_ty: Type,
    /// Visibility of the deadline enum.
    pub vis: Visibility,
    /// `{Process}Deadline`.
    pub deadline_enum: Ident,
    pub handlers: Vec<On>,
    pub deadlines: Vec<Deadline>,
    pub rejected: Option<Rejected>,
}

/// An `#[on]` method.
pub struct On {
    pub method: Ident,
    pub event_ty: Type,
    pub key: Ident,
    /// `#[on(aggregate = "...")]`: only events of this aggregate type.
    pub aggregate: Option<LitStr>,
    /// `#[on(start)]`: a missing instance is created.
    pub start: bool,
    /// `#[on(end)]`: the instance ends after the handler.
    pub end: bool,
    /// `#[on(correlate = field)]`: the field of the event that holds the instance key
    /// (default: the event's stream id), with the user's span.
    pub correlate: Option<Ident>,
    /// It takes `&EventMeta` after the event.
    pub with_meta: bool,
    /// It takes `&mut Steps<Self>` last.
    pub with_steps: bool,
    /// It returns a `Result`.
    pub fallible: bool,
    pub cfgs: Vec<Attribute>,
}

/// A `#[deadline]` method.
pub struct Deadline {
    pub method: Ident,
    /// The deadline type, taken by value.
    pub ty: Type,
    /// Its variant of `{Process}Deadline`: the type's own name.
    pub variant: Ident,
    pub with_steps: bool,
    pub fallible: bool,
    pub cfgs: Vec<Attribute>,
}

/// The `#[rejected]` method.
pub struct Rejected {
    pub method: Ident,
    pub with_steps: bool,
    pub fallible: bool,
    pub cfgs: Vec<Attribute>,
}

pub fn process(cx: &Ctxt, args: &HandlersArgs, item: &HandlersImpl) -> Option<ProcessModel> {
    let ident = block_type(cx, item, "process manager", "PaymentDeadline")?;
    let mut handlers: Vec<On> = Vec::new();
    let mut deadlines: Vec<Deadline> = Vec::new();
    let mut rejected: Option<Rejected> = None;
    // Also true for an `#[on(start)]` method that could not be read: it is reported as
    // itself, not as a missing start.
    let mut any_start = false;
    for member in &item.members {
        let Member::Method(method) = member else { continue };
        match role(cx, method) {
            // A block with another kind's attributes is reported by `kind` and never modelled.
            Some((Role::Command | Role::Apply | Role::Query, _)) | None => {}
            Some((Role::On, _)) => {
                let attrs = attr::process_on_attrs(cx, &method.attrs);
                any_start |= attrs.start;
                let Some(on) = on(cx, method, attrs) else { continue };
                if let Some(first) = handlers.iter().find(|h| h.key == on.key) {
                    cx.error_spanned_by(
                        &on.event_ty,
                        format!("`{}` already has an `#[on]` method: `{}`", on.key, first.method),
                    );
                    continue;
                }
                handlers.push(on);
            }
            Some((Role::Deadline, _)) => {
                let Some(deadline) = deadline(cx, method) else { continue };
                if let Some(first) = deadlines.iter().find(|d| d.variant == deadline.variant) {
                    cx.error_spanned_by(
                        &deadline.ty,
                        format!("`{}` already has a `#[deadline]` method: `{}`", deadline.variant, first.method),
                    );
                    continue;
                }
                deadlines.push(deadline);
            }
            Some((Role::Rejected, marker)) => {
                let Some(this) = rejected_method(cx, method) else { continue };
                if let Some(first) = &rejected {
                    cx.error_spanned_by(
                        marker,
                        format!(
                            "a process manager has one `#[rejected]` method, and `{}` already is; handle every refused command there (`rejected.command.aggregate_type` tells them apart)",
                            first.method
                        ),
                    );
                    continue;
                }
                rejected = Some(this);
            }
        }
    }
    if !any_start {
        cx.error_spanned_by(
            &item.self_ty,
            format!(
                "the process manager `{ident}` has no `#[on(start)]` method, so nothing can create an instance; \
                 mark the `#[on]` method of the event that begins its workflow `#[on(start)]`"
            ),
        );
    }
    // As for the other generated enums: `pub` unless the user narrows it (see `projection`).
    let vis = args.vis.clone().unwrap_or_else(|| syn::parse_quote!(pub));
    Some(ProcessModel {
        deadline_enum: format_ident!("{}Deadline", ident, span = ident.span()),
        ident,
        self_ty: item.self_ty.clone(),
        vis,
        handlers,
        deadlines,
        rejected,
    })
}

/// The checks every handler of a process manager shares: a plain, synchronous method taking
/// `&mut self` and returning nothing or `Result<(), E>`. Returns whether it is fallible.
fn handler_checks(cx: &Ctxt, method: &Method, marker: &str) -> bool {
    let sig = &method.sig;
    common_signature_checks(cx, method, &format!("{marker} method"));
    let article = if marker == "`#[on]`" { "an" } else { "a" };
    let what = format!("{article} {marker}");
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(
            asyncness,
            format!(
                "{what} method cannot be `async`: a process manager decides from its state alone, and what has \
                 to wait is a command it sends or a deadline it sets through `Steps`"
            ),
        );
    }
    check_receiver(
        cx,
        method,
        &format!("the {marker} method"),
        true,
        &format!("{what} method takes `&mut self`: it changes its instance's state"),
    );
    unit_or_result(
        cx,
        &sig.output,
        &format!("{what} method returns nothing, or `Result<(), E>` to stop the process runner"),
    )
}

/// Reads the parameters after the first: an optional `&EventMeta` (when `meta` is allowed),
/// then an optional `&mut Steps<Self>`. Returns `(with_meta, with_steps)`; anything else is
/// reported with `usage`.
fn trailing_params(cx: &Ctxt, rest: &[&PatType], meta: bool, usage: &str) -> (bool, bool) {
    let (mut with_meta, mut with_steps) = (false, false);
    for param in rest {
        if meta && is_ref_to(&param.ty, "EventMeta") && !with_meta && !with_steps {
            with_meta = true;
        } else if is_steps(&param.ty) && !with_steps {
            with_steps = true;
        } else {
            cx.error_spanned_by(&param.ty, format!("unexpected parameter: {usage}"));
        }
    }
    (with_meta, with_steps)
}

fn on(cx: &Ctxt, method: &Method, attrs: attr::ProcessOnAttrs) -> Option<On> {
    let sig = &method.sig;
    let name = &sig.ident;
    let fallible = handler_checks(cx, method, "`#[on]`");
    let usage = format!(
        "`fn {name}(&mut self, event: &SomeEvent)`, optionally followed by `meta: &EventMeta` and then `steps: &mut Steps<Self>`"
    );
    let typed = typed_params(sig);
    let Some((event, rest)) = typed.split_first() else {
        cx.error_spanned_by(name, format!("an `#[on]` method takes one event by reference: {usage}"));
        return None;
    };
    let (with_meta, with_steps) = trailing_params(cx, rest, true, &usage);
    let (event_ty, key) = event_param(cx, event, "an `#[on]` method")?;
    Some(On {
        method: name.clone(),
        event_ty,
        key,
        aggregate: attrs.aggregate,
        start: attrs.start,
        end: attrs.end,
        correlate: attrs.correlate,
        with_meta,
        with_steps,
        fallible,
        cfgs: cfgs(&method.attrs),
    })
}

fn deadline(cx: &Ctxt, method: &Method) -> Option<Deadline> {
    let sig = &method.sig;
    let name = &sig.ident;
    let fallible = handler_checks(cx, method, "`#[deadline]`");
    let usage =
        format!("`fn {name}(&mut self, deadline: PaymentDue)`, optionally followed by `steps: &mut Steps<Self>`");
    let typed = typed_params(sig);
    let Some((deadline, rest)) = typed.split_first() else {
        cx.error_spanned_by(name, format!("a `#[deadline]` method takes the deadline that fell due: {usage}"));
        return None;
    };
    let (_, with_steps) = trailing_params(cx, rest, false, &usage);
    let ty = match &*deadline.ty {
        Type::Reference(reference) => {
            cx.error_spanned_by(
                reference,
                "a `#[deadline]` method takes its deadline by value, such as `deadline: PaymentDue`: it was stored as JSON and is read back for the handler",
            );
            (*reference.elem).clone()
        }
        other => other.clone(),
    };
    let Some(variant) = event_key(&ty) else {
        cx.error_spanned_by(&ty, "a deadline is named by its type path, such as `PaymentDue`");
        return None;
    };
    Some(Deadline { method: name.clone(), ty, variant, with_steps, fallible, cfgs: cfgs(&method.attrs) })
}

fn rejected_method(cx: &Ctxt, method: &Method) -> Option<Rejected> {
    let sig = &method.sig;
    let name = &sig.ident;
    let fallible = handler_checks(cx, method, "`#[rejected]`");
    let usage =
        format!("`fn {name}(&mut self, rejected: &RejectedCommand)`, optionally followed by `steps: &mut Steps<Self>`");
    let typed = typed_params(sig);
    let Some((rejected, rest)) = typed.split_first() else {
        cx.error_spanned_by(name, format!("a `#[rejected]` method takes the refused command: {usage}"));
        return None;
    };
    if !is_ref_to(&rejected.ty, "RejectedCommand") {
        cx.error_spanned_by(&rejected.ty, format!("a `#[rejected]` method takes `&RejectedCommand` first: {usage}"));
    }
    let (_, with_steps) = trailing_params(cx, rest, false, &usage);
    Some(Rejected { method: name.clone(), with_steps, fallible, cfgs: cfgs(&method.attrs) })
}
