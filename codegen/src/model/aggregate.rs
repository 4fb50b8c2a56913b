//! The model of a `#[handlers]` impl block: its commands and its `#[apply]` handlers, built
//! from the parsed impl while checking every rule. Each rule reports at the user's token and
//! the build goes on, so all mistakes of the block surface at once; what could be understood
//! still makes it into the model, so the fallback output keeps the user's names defined.

use quote::{ToTokens, format_ident};
use syn::{Attribute, FnArg, Ident, ReturnType, Type, Visibility};

use super::{
    Role, block_type, cfgs, check_receiver, common_signature_checks, event_key, event_param, field, generic_args,
    result_args, role, typed_params,
};
use crate::ast::{HandlersImpl, Member, Method};
use crate::attr::{self, HandlersArgs};
use crate::ctxt::Ctxt;
use crate::names::pascal_case;
use crate::symbol::*;

/// An aggregate as its `#[handlers]` block describes it.
pub struct AggregateModel {
    /// The aggregate type (`BankAccount`), with the user's span.
    pub ident: Ident,
    /// The type as written after `impl`.
    pub self_ty: Type,
    /// Visibility of the generated enums.
    pub vis: Visibility,
    pub command_enum: Ident,
    pub event_enum: Ident,
    pub commands: Vec<Command>,
    pub applies: Vec<Apply>,
    /// The one error type of the commands (`None` if no command could be read).
    pub error_ty: Option<Type>,
    /// The type behind `#[services]` parameters (`None`: `()`).
    pub services_ty: Option<Type>,
}

pub struct Command {
    pub method: Ident,
    pub variant: Ident,
    pub docs: Vec<Attribute>,
    pub cfgs: Vec<Attribute>,
    pub is_async: bool,
    /// The method's parameters in order: fields of the variant, or the services.
    pub params: Vec<Param>,
    pub output: Output,
}

pub enum Param {
    Field { ident: Ident, ty: Box<Type> },
    Services,
}

/// What a command's `Ok` holds.
pub enum Output {
    /// One event.
    One(Type),
    /// Several events, in order.
    Tuple(Vec<Type>),
    /// Zero or one event.
    Option(Type),
    /// `Vec<{Aggregate}Event>`.
    Events,
}

pub struct Apply {
    pub method: Ident,
    pub event_ty: Type,
    /// The event type's own name: the variant name and the key of "has an apply".
    pub variant: Ident,
    pub cfgs: Vec<Attribute>,
}

impl Output {
    /// The event types it names, with the user's spans.
    pub fn event_types(&self) -> Vec<&Type> {
        match self {
            Output::One(ty) | Output::Option(ty) => vec![ty],
            Output::Tuple(tys) => tys.iter().collect(),
            Output::Events => Vec::new(),
        }
    }
}

/// Builds the model, reporting every broken rule to `cx`.
pub fn aggregate(cx: &Ctxt, args: &HandlersArgs, item: &HandlersImpl) -> Option<AggregateModel> {
    let ident = block_type(cx, item, "aggregate", "BankAccount")?;
    let command_enum = format_ident!("{}Command", ident, span = ident.span());
    let event_enum = format_ident!("{}Event", ident, span = ident.span());

    let mut commands = Vec::new();
    let mut applies: Vec<Apply> = Vec::new();
    let mut errors: Vec<(Type, Ident)> = Vec::new();
    let mut services: Vec<(Type, Ident)> = Vec::new();
    for member in &item.members {
        let Member::Method(method) = member else {
            continue;
        };
        match role(cx, method) {
            // A block with both kinds is reported by `kind` and never modelled.
            Some((Role::On | Role::Query | Role::Deadline | Role::Rejected, _)) => {}
            Some((Role::Command, _)) => {
                if let Some(command) = command(cx, method, &event_enum, &mut errors, &mut services) {
                    if let Some(first) = commands.iter().find(|c: &&Command| c.variant == command.variant) {
                        cx.error_spanned_by(
                            &command.variant,
                            format!(
                                "two commands would be the variant `{}::{}` (`{}` and `{}`); give one `#[command(name = \"...\")]`",
                                command_enum, command.variant, first.method, command.method
                            ),
                        );
                        continue;
                    }
                    commands.push(command);
                }
            }
            Some((Role::Apply, _)) => {
                if let Some(apply) = apply(cx, method) {
                    if let Some(first) = applies.iter().find(|a| a.variant == apply.variant) {
                        cx.error_spanned_by(
                            &apply.event_ty,
                            format!("`{}` already has an `#[apply]` method: `{}`", apply.variant, first.method),
                        );
                    } else {
                        applies.push(apply);
                    }
                }
            }
            None => {}
        }
    }

    if commands.is_empty() && applies.is_empty() {
        cx.error_spanned_by(
            &item.self_ty,
            format!("`#[handlers]` found no `#[command]` or `#[apply]` method in this impl block of `{ident}`"),
        );
    }
    for command in &commands {
        for ty in command.output.event_types() {
            let Some(key) = event_key(ty) else { continue };
            if !applies.iter().any(|a| a.variant == key) {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "command `{}` returns `{key}`, which has no `#[apply]` method in this impl block; add `#[apply] fn ..(&mut self, event: &{key})`",
                        command.method
                    ),
                );
            }
        }
    }
    let error_ty = one_type(cx, &errors, "error type", "all commands of an aggregate return one error type");
    let services_ty =
        one_type(cx, &services, "services type", "all `#[services]` parameters of an aggregate take one type");
    // `#[handlers]` cannot see the struct, and an enum less visible than it would be a
    // private type in the public `impl` (E0446): `pub` unless the user narrows it.
    let vis = args.vis.clone().unwrap_or_else(|| syn::parse_quote!(pub));
    Some(AggregateModel {
        ident,
        self_ty: item.self_ty.clone(),
        vis,
        command_enum,
        event_enum,
        commands,
        applies,
        error_ty,
        services_ty,
    })
}

fn command(
    cx: &Ctxt,
    method: &Method,
    event_enum: &Ident,
    errors: &mut Vec<(Type, Ident)>,
    services: &mut Vec<(Type, Ident)>,
) -> Option<Command> {
    let sig = &method.sig;
    let name = &sig.ident;
    let attrs = attr::command_attrs(cx, &method.attrs);
    common_signature_checks(cx, method, "command");
    check_receiver(
        cx,
        method,
        "the command",
        false,
        "a command takes `&self`: it decides, and only events change state (`#[apply]` methods take `&mut self`)",
    );

    let mut params = Vec::new();
    let mut own_services: Option<&syn::PatType> = None;
    for arg in &sig.inputs {
        let FnArg::Typed(pat_type) = arg else {
            continue;
        };
        if pat_type.attrs.iter().any(|a| a.path().is_ident(SERVICES)) {
            if let Some(first) = own_services {
                cx.error_spanned_by(
                    pat_type,
                    format!(
                        "`{name}` already takes the services in `{}`; a command has at most one `#[services]` parameter",
                        first.pat.to_token_stream()
                    ),
                );
                continue;
            }
            own_services = Some(pat_type);
            match &*pat_type.ty {
                Type::Reference(reference) if reference.mutability.is_none() => {
                    services.push(((*reference.elem).clone(), name.clone()));
                }
                other => cx.error_spanned_by(
                    other,
                    "the `#[services]` parameter takes a shared reference, such as `&BankServices`",
                ),
            }
            params.push(Param::Services);
            continue;
        }
        for attr in &pat_type.attrs {
            cx.error_spanned_by(attr, "the only attribute a command parameter takes is `#[services]`");
        }
        // A rejected parameter stays out of the enum, so it adds no errors of its own.
        if let Some((ident, ty)) =
            field(cx, pat_type, "command", "; references are allowed only for the `#[services]` parameter")
        {
            params.push(Param::Field { ident, ty });
        }
    }

    let output = match &sig.output {
        ReturnType::Type(_, ty) => match result_args(ty) {
            Some((ok, err)) => {
                errors.push((err.clone(), name.clone()));
                output_of(cx, name, ok, event_enum)
            }
            None => {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "a command returns `Result<Events, Error>`, written out (not through an alias): `Events` is one event, a tuple of events, `Option<Event>` or `Vec<{event_enum}>`"
                    ),
                );
                None
            }
        },
        ReturnType::Default => {
            cx.error_spanned_by(
                name,
                format!(
                    "the command `{name}` must return `Result<Events, Error>`: the events it records, or why it refuses"
                ),
            );
            None
        }
    };
    let variant = attrs.name.unwrap_or_else(|| Ident::new(&pascal_case(&name.to_string()), name.span()));
    Some(Command {
        method: name.clone(),
        variant,
        docs: method.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect(),
        cfgs: cfgs(&method.attrs),
        is_async: sig.asyncness.is_some(),
        params,
        output: output.unwrap_or(Output::Events),
    })
}

fn apply(cx: &Ctxt, method: &Method) -> Option<Apply> {
    let sig = &method.sig;
    let name = &sig.ident;
    common_signature_checks(cx, method, "`#[apply]` method");
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(asyncness, "an `#[apply]` method cannot be `async`: it only changes the state");
    }
    check_receiver(cx, method, "the `#[apply]` method", true, "an `#[apply]` method takes `&mut self`");
    if let ReturnType::Type(_, ty) = &sig.output {
        cx.error_spanned_by(
            ty,
            "an `#[apply]` method returns nothing: the event already happened, applying it cannot fail",
        );
    }
    let typed = typed_params(sig);
    let [event] = typed.as_slice() else {
        let span_of = typed.get(1).map_or_else(|| name.to_token_stream(), |t| t.to_token_stream());
        cx.error_spanned_by(
            span_of,
            format!("the `#[apply]` method `{name}` takes exactly one event by reference: `fn {name}(&mut self, event: &SomeEvent)`"),
        );
        return None;
    };
    let (event_ty, variant) = event_param(cx, event, "an `#[apply]` method")?;
    Some(Apply { method: name.clone(), event_ty, variant, cfgs: cfgs(&method.attrs) })
}

fn output_of(cx: &Ctxt, command: &Ident, ok: &Type, event_enum: &Ident) -> Option<Output> {
    if let Type::Tuple(tuple) = ok {
        if tuple.elems.is_empty() {
            cx.error_spanned_by(
                ok,
                format!("the command `{command}` records no event; return `Option<Event>` and `Ok(None)` when nothing happens"),
            );
            return None;
        }
        let mut types = Vec::new();
        for elem in &tuple.elems {
            if event_key(elem).is_some() {
                types.push(elem.clone());
            } else {
                cx.error_spanned_by(elem, "each element of the tuple is one event type");
            }
        }
        return Some(Output::Tuple(types));
    }
    if let Some(args) = generic_args(ok, "Option") {
        if let [inner] = args.as_slice()
            && event_key(inner).is_some()
        {
            return Some(Output::Option((*inner).clone()));
        }
        cx.error_spanned_by(ok, "a command returning `Option` holds one event type: `Option<MoneyDeposited>`");
        return None;
    }
    if let Some(args) = generic_args(ok, "Vec") {
        let is_enum = matches!(args.as_slice(), [Type::Path(p)] if p.path.is_ident(event_enum));
        if !is_enum {
            cx.error_spanned_by(
                ok,
                format!("a command returning a `Vec` returns the aggregate's event enum: `Vec<{event_enum}>`"),
            );
            return None;
        }
        return Some(Output::Events);
    }
    if event_key(ok).is_some() {
        return Some(Output::One(ok.clone()));
    }
    cx.error_spanned_by(
        ok,
        format!("a command records one event, a tuple of events, `Option<Event>` or `Vec<{event_enum}>`"),
    );
    None
}

/// The one type all entries agree on; every entry that differs from the first is an error.
fn one_type(cx: &Ctxt, entries: &[(Type, Ident)], what: &str, rule: &str) -> Option<Type> {
    let (first, first_method) = entries.first()?;
    let key = first.to_token_stream().to_string();
    for (ty, method) in &entries[1..] {
        if ty.to_token_stream().to_string() != key {
            cx.error_spanned_by(
                ty,
                format!(
                    "{rule}: `{first_method}` uses the {what} `{}`, `{method}` uses `{}`",
                    first.to_token_stream(),
                    ty.to_token_stream()
                ),
            );
        }
    }
    Some(first.clone())
}
