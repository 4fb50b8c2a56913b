//! The models of `#[handlers]` impl blocks, built while checking every rule: one module per
//! kind of block (aggregate, projection), and the rules they share.

pub mod aggregate;
pub mod projection;

use quote::ToTokens;
use syn::{Attribute, GenericArgument, Ident, Pat, PatType, PathArguments, Type, TypePath};

use crate::ast::{HandlersImpl, Member, Method};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// What a method of a `#[handlers]` block is, by its attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Command,
    Apply,
    On,
    Query,
}

/// The kind of a `#[handlers]` block, read from its methods' attribute names.
pub(crate) enum Kind<'a> {
    Aggregate,
    Projection,
    /// Both kinds of attributes: the first attribute of the second kind seen.
    Mixed(&'a syn::Attribute),
}

pub(crate) fn kind(item: &HandlersImpl) -> Kind<'_> {
    let (mut aggregate, mut projection) = (None, None);
    for member in &item.members {
        let Member::Method(method) = member else { continue };
        for attr in &method.attrs {
            if attr.path().is_ident(COMMAND) || attr.path().is_ident(APPLY) {
                if projection.is_some() {
                    return Kind::Mixed(attr);
                }
                aggregate = aggregate.or(Some(attr));
            } else if attr.path().is_ident(ON) || attr.path().is_ident(QUERY) {
                if aggregate.is_some() {
                    return Kind::Mixed(attr);
                }
                projection = projection.or(Some(attr));
            }
        }
    }
    if projection.is_some() { Kind::Projection } else { Kind::Aggregate }
}

/// The checks every `#[handlers]` block shares: a plain, inherent, non-generic impl of a
/// named type. Returns that type's name; `kind` is "aggregate" or "projection" and
/// `example` a type name for the messages.
pub(crate) fn block_type(cx: &Ctxt, item: &HandlersImpl, kind: &str, example: &str) -> Option<Ident> {
    if let Some(unsafety) = &item.unsafety {
        cx.error_spanned_by(unsafety, "`#[handlers]` goes on a plain `impl` block, not an `unsafe impl`");
    }
    if let Some((path, for_token)) = &item.trait_ {
        cx.error_spanned_by(
            quote::quote!(#path #for_token),
            format!("`#[handlers]` goes on an inherent impl block (`impl {example} {{ .. }}`), not on a trait impl"),
        );
    }
    let generic = format!("generic {kind}s are not supported by `#[handlers]`");
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        cx.error_spanned_by(&item.generics, generic);
        return None;
    }
    match &item.self_ty {
        Type::Path(TypePath { qself: None, path, .. }) => {
            let last = path.segments.last().expect("a parsed path has a segment");
            if !last.arguments.is_none() {
                cx.error_spanned_by(&last.arguments, generic);
            }
            Some(last.ident.clone())
        }
        other => {
            cx.error_spanned_by(
                other,
                format!("`#[handlers]` needs the {kind}'s type name here, such as `impl {example}`"),
            );
            None
        }
    }
}

/// Checks a handler's receiver: `&mut self` when `mutable`, else `&self`. `what` names the
/// handler ("the command"), `wrong` is the message for any other receiver.
pub(crate) fn check_receiver(cx: &Ctxt, method: &Method, what: &str, mutable: bool, wrong: &str) {
    let sig = &method.sig;
    match sig.receiver() {
        Some(receiver) => {
            let fits = matches!(&receiver.kind, syn::ReceiverKind::Reference(_, _, m) if m.is_some() == mutable);
            if !fits {
                cx.error_spanned_by(receiver, wrong);
            }
        }
        None => {
            let wanted = if mutable { "&mut self" } else { "&self" };
            cx.error_spanned_by(&sig.ident, format!("{what} `{}` needs a `{wanted}` receiver", sig.ident));
        }
    }
}

/// The typed parameters of a signature (all but the receiver).
pub(crate) fn typed_params(sig: &syn::Signature) -> Vec<&PatType> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => Some(t),
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The event a handler takes (`e: &MoneyDeposited`): its type and its key. A parameter
/// taken by value is reported, but the event it names is still returned, so that nothing
/// else in the block is reported about it again.
pub(crate) fn event_param(cx: &Ctxt, param: &PatType, what: &str) -> Option<(Type, Ident)> {
    let event_ty = match &*param.ty {
        Type::Reference(reference) if reference.mutability.is_none() => &*reference.elem,
        other => {
            cx.error_spanned_by(
                other,
                format!("{what} takes its event by shared reference, such as `&MoneyDeposited`"),
            );
            match other {
                Type::Reference(reference) => &*reference.elem,
                _ => other,
            }
        }
    };
    let Some(key) = event_key(event_ty) else {
        cx.error_spanned_by(event_ty, "an event is named by its type path, such as `MoneyDeposited`");
        return None;
    };
    Some((event_ty.clone(), key))
}

/// Which of our attributes a method carries; more than one is an error.
pub(crate) fn role<'a>(cx: &Ctxt, method: &'a Method) -> Option<(Role, &'a Attribute)> {
    let mut found: Option<(Role, &Attribute)> = None;
    for attr in &method.attrs {
        let path = attr.path();
        let role = if path.is_ident(COMMAND) {
            Role::Command
        } else if path.is_ident(APPLY) {
            Role::Apply
        } else if path.is_ident(ON) {
            Role::On
        } else if path.is_ident(QUERY) {
            Role::Query
        } else if path.is_ident(SERVICES) {
            cx.error_spanned_by(attr, "`#[services]` goes on a parameter of a command, not on a method");
            continue;
        } else {
            continue;
        };
        if matches!(role, Role::Apply | Role::Query) && !matches!(attr.meta, syn::Meta::Path(_)) {
            cx.error_spanned_by(attr, format!("`#[{}]` takes no arguments", path.to_token_stream()));
        }
        if let Some((_, first)) = &found {
            cx.error_spanned_by(
                attr,
                format!(
                    "a method has one role: `{}` is already marked `{}`",
                    method.sig.ident,
                    first.to_token_stream()
                ),
            );
        } else {
            found = Some((role, attr));
        }
    }
    found
}

/// A parameter that becomes a named field of a generated variant (`what` is "command" or
/// "query"): a plain name and an owned type.
pub(crate) fn field(cx: &Ctxt, pat_type: &PatType, what: &str, reference_hint: &str) -> Option<(Ident, Box<Type>)> {
    let ident = match &*pat_type.pat {
        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() && pat.ident != "_" => pat.ident.clone(),
        other => {
            cx.error_spanned_by(
                other,
                format!("a {what} parameter becomes a named field of the {what} variant: write a plain name, such as `amount: u64`"),
            );
            return None;
        }
    };
    match &*pat_type.ty {
        Type::Reference(reference) => {
            cx.error_spanned_by(
                reference,
                format!(
                    "a {what} parameter becomes a field of the {what} enum, so it must be an owned type{}{reference_hint}",
                    owned_hint(&reference.elem)
                ),
            );
            None
        }
        Type::ImplTrait(impl_trait) => {
            cx.error_spanned_by(
                impl_trait,
                format!(
                    "a {what} parameter becomes a field of the {what} enum: it needs a concrete type, not `impl Trait`"
                ),
            );
            None
        }
        _ => Some((ident, pat_type.ty.clone())),
    }
}

/// Rules every handler shares: no generics, no `unsafe`, no `extern`.
pub(crate) fn common_signature_checks(cx: &Ctxt, method: &Method, what: &str) {
    let sig = &method.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(&sig.generics, format!("a {what} cannot be generic"));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        cx.error_spanned_by(token, format!("a {what} cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, format!("a {what} cannot have an ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, format!("a {what} cannot be variadic"));
    }
}

/// The type arguments of a path type whose last segment is `name`.
pub(crate) fn generic_args<'a>(ty: &'a Type, name: &str) -> Option<Vec<&'a Type>> {
    let Type::Path(TypePath { qself: None, path, .. }) = ty else {
        return None;
    };
    let last = path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
    )
}

/// The name that identifies an event type in this block: the last segment of its path.
pub(crate) fn event_key(ty: &Type) -> Option<Ident> {
    match ty {
        Type::Path(TypePath { qself: None, path, .. }) => {
            let last = path.segments.last()?;
            last.arguments.is_none().then(|| last.ident.clone())
        }
        Type::Paren(inner) => event_key(&inner.elem),
        Type::Group(inner) => event_key(&inner.elem),
        _ => None,
    }
}

/// `#[cfg(..)]` and `#[cfg_attr(..)]` of a method, to repeat on what is generated from it.
pub(crate) fn cfgs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect()
}

/// `&str` → "such as `String`".
pub(crate) fn owned_hint(elem: &Type) -> String {
    let text = elem.to_token_stream().to_string();
    let owned = match text.as_str() {
        "str" => "String".to_owned(),
        "Path" => "PathBuf".to_owned(),
        _ if text.starts_with('[') => "Vec<..>".to_owned(),
        _ => text,
    };
    format!(" (such as `{owned}`)")
}

/// Splits `Result<T, E>` (under any path ending in `Result`).
pub(crate) fn result_args(ty: &Type) -> Option<(&Type, &Type)> {
    match generic_args(ty, "Result")?.as_slice() {
        [ok, err] => Some((ok, err)),
        _ => None,
    }
}
