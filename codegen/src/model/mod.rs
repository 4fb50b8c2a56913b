//! The models of `#[handlers]` impl blocks, built while checking every rule: one module per
//! kind of block (aggregate, projection, process manager), and the rules they share; and
//! the personal data of an event (`pii`).

pub mod aggregate;
pub mod pii;
pub mod process;
pub mod projection;

use proc_macro2::TokenStream;
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
    Deadline,
    Rejected,
}

/// The kind of a `#[handlers]` block, read from its methods' attributes and parameters.
pub(crate) enum Kind {
    Aggregate,
    Projection,
    Process,
    /// Attributes of two kinds: the error, at the first token of the kind that came second.
    Mixed(syn::Error),
}

/// Tokens of a block that tell its kind, with their position in the block.
#[derive(Default)]
struct Signs {
    /// `#[command]`, `#[apply]`.
    aggregate: Option<(usize, TokenStream)>,
    /// `#[query]`.
    query: Option<(usize, TokenStream)>,
    /// `#[on]` of any kind.
    on: Option<(usize, TokenStream)>,
    /// `#[deadline]`, `#[rejected]`, `#[on(start | end | correlate)]`, `&mut Steps<..>`.
    process: Option<(usize, TokenStream)>,
}

/// A block is a process manager's if any method has `#[deadline]` or `#[rejected]`, an
/// `#[on(..)]` with `start`, `end` or `correlate` (or a key that looks like a typo of one),
/// or a `&mut Steps<..>` parameter; else a projection's if it has `#[on]` or `#[query]`;
/// else an aggregate's.
pub(crate) fn kind(item: &HandlersImpl) -> Kind {
    let mut signs = Signs::default();
    let mut at = 0;
    let mut note = |slot: &mut Option<(usize, TokenStream)>, tokens: TokenStream| {
        at += 1;
        if slot.is_none() {
            *slot = Some((at, tokens));
        }
    };
    for member in &item.members {
        let Member::Method(method) = member else { continue };
        for attr in &method.attrs {
            let path = attr.path();
            let tokens = attr.to_token_stream();
            if path.is_ident(COMMAND) || path.is_ident(APPLY) {
                note(&mut signs.aggregate, tokens);
            } else if path.is_ident(QUERY) {
                note(&mut signs.query, tokens);
            } else if path.is_ident(DEADLINE) || path.is_ident(REJECTED) {
                note(&mut signs.process, tokens);
            } else if path.is_ident(ON) {
                if has_process_key(attr) {
                    note(&mut signs.process, tokens.clone());
                }
                note(&mut signs.on, tokens);
            }
        }
        for param in typed_params(&method.sig) {
            if is_steps(&param.ty) {
                note(&mut signs.process, param.ty.to_token_stream());
            }
        }
    }
    // The first sign of the kind that came second.
    let later = |a: &(usize, TokenStream), b: &(usize, TokenStream)| if a.0 > b.0 { a.1.clone() } else { b.1.clone() };
    let mixed = |tokens: TokenStream, message: &str| Kind::Mixed(syn::Error::new_spanned(tokens, message));
    if let Some(aggregate) = &signs.aggregate {
        if let Some(process) = &signs.process {
            let first = [&signs.on, &signs.process].into_iter().flatten().min_by_key(|(at, _)| *at).unwrap_or(process);
            return mixed(
                later(aggregate, first),
                "an impl block is an aggregate's (`#[command]`, `#[apply]`) or a process manager's (`#[on]`, `#[deadline]`, `#[rejected]`), not both; split it in two",
            );
        }
        let projection = [&signs.on, &signs.query].into_iter().flatten().min_by_key(|(at, _)| *at);
        if let Some(projection) = projection {
            return mixed(
                later(aggregate, projection),
                "an impl block is an aggregate's (`#[command]`, `#[apply]`) or a projection's (`#[on]`, `#[query]`), not both; split it in two",
            );
        }
        return Kind::Aggregate;
    }
    match (&signs.process, &signs.query) {
        (Some(_), Some((_, query))) => mixed(
            query.clone(),
            "a process manager answers no queries: `#[query]` goes in a projection's impl block, and this one is a process manager's (`#[on(start)]`, `#[deadline]`, `#[rejected]`, `&mut Steps<Self>`)",
        ),
        (Some(_), None) => Kind::Process,
        (None, _) if signs.on.is_some() || signs.query.is_some() => Kind::Projection,
        (None, _) => Kind::Aggregate,
    }
}

/// An `#[on(..)]` with a key only a process manager has, or one that looks like a typo of
/// such a key (`strat`) rather than of `aggregate`.
fn has_process_key(attr: &Attribute) -> bool {
    let syn::Meta::List(list) = &attr.meta else { return false };
    list.tokens.clone().into_iter().any(|token| {
        let proc_macro2::TokenTree::Ident(ident) = token else { return false };
        let word = ident.to_string();
        PROCESS_ONLY_ON_KEYS.contains(&word.as_str())
            || (word != AGGREGATE_KEY
                && crate::names::suggest(&word, PROCESS_ONLY_ON_KEYS).is_some()
                && crate::names::suggest(&word, &[AGGREGATE_KEY]).is_none())
    })
}

/// `&mut Steps<..>` (under any path ending in `Steps`).
pub(crate) fn is_steps(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_some() && generic_args(&r.elem, "Steps").is_some())
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
        } else if path.is_ident(DEADLINE) {
            Role::Deadline
        } else if path.is_ident(REJECTED) {
            Role::Rejected
        } else if path.is_ident(SERVICES) {
            cx.error_spanned_by(attr, "`#[services]` goes on a parameter of a command, not on a method");
            continue;
        } else {
            continue;
        };
        if matches!(role, Role::Apply | Role::Query | Role::Deadline | Role::Rejected)
            && !matches!(attr.meta, syn::Meta::Path(_))
        {
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

/// True when `ty` is a shared reference to a type whose path ends in `name` (`&EventMeta`,
/// `&factum::process::RejectedCommand`).
pub(crate) fn is_ref_to(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none() && event_key(&r.elem).is_some_and(|k| k == name))
}

/// Checks that a handler returns nothing or `Result<(), E>` (`wrong` is the message for
/// anything else); whether it returns a `Result`.
pub(crate) fn unit_or_result(cx: &Ctxt, output: &syn::ReturnType, wrong: &str) -> bool {
    match output {
        syn::ReturnType::Default => false,
        syn::ReturnType::Type(_, ty) => {
            if !result_args(ty).is_some_and(|(ok, _)| matches!(ok, Type::Tuple(t) if t.elems.is_empty())) {
                cx.error_spanned_by(ty, wrong);
            }
            true
        }
    }
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
