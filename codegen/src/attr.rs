//! Typed attributes: `#[event(..)]`, `#[aggregate(..)]`, `#[command(..)]`, `#[handlers(..)]`.
//!
//! Unknown keys, duplicates and bad values are reported to the [`Ctxt`] at the user's token,
//! and parsing goes on with the next key, so one pass reports every mistake.

use proc_macro2::TokenTree;
use syn::meta::ParseNestedMeta;
use syn::parse::Parse;
use syn::parse::Parser;
use syn::{Attribute, Ident, LitInt, LitStr, Meta, Token, Type, Visibility};

use crate::ast::{HandlersImpl, Member};
use crate::ctxt::Ctxt;
use crate::names::{one_of, suggest};
use crate::symbol::*;

/// `#[event(name = "...", version = N, upcast_from = Old)]`.
#[derive(Default)]
pub struct EventAttrs {
    pub name: Option<LitStr>,
    pub version: Option<u32>,
    pub upcast_from: Option<Type>,
}

/// `#[aggregate(name = "...", snapshot_every = N)]`.
#[derive(Default)]
pub struct AggregateAttrs {
    pub name: Option<LitStr>,
    pub snapshot_every: Option<(u64, LitInt)>,
}

/// `#[command]` or `#[command(name = "Variant")]`.
#[derive(Default)]
pub struct CommandAttrs {
    pub name: Option<Ident>,
}

/// `#[projection(name = "...")]`.
#[derive(Default)]
pub struct ProjectionAttrs {
    pub name: Option<LitStr>,
}

/// `#[process(name = "...", sends = [Order, Payment])]`.
#[derive(Default)]
pub struct ProcessAttrs {
    pub name: Option<LitStr>,
    /// The aggregates it sends commands to, as written, each once.
    pub sends: Vec<Type>,
}

/// `#[on]` or `#[on(aggregate = "bank-account")]`.
#[derive(Default)]
pub struct OnAttrs {
    pub aggregate: Option<LitStr>,
}

/// A process manager's `#[on(start, end, correlate = field, aggregate = "...")]`.
#[derive(Default)]
pub struct ProcessOnAttrs {
    pub aggregate: Option<LitStr>,
    pub start: bool,
    pub end: bool,
    pub correlate: Option<Ident>,
}

/// `#[handlers]` or `#[handlers(vis = "pub(crate)")]`.
#[derive(Default)]
pub struct HandlersArgs {
    pub vis: Option<Visibility>,
}

pub fn event_attrs(cx: &Ctxt, attrs: &[Attribute]) -> EventAttrs {
    let mut out = EventAttrs::default();
    for_each_key(cx, attrs, EVENT, EVENT_KEYS, |key, meta| {
        match key {
            NAME => out.name = Some(stored_name(cx, meta.value()?.parse()?)),
            VERSION => {
                let lit: LitInt = meta.value()?.parse()?;
                let version: u32 = lit.base10_parse()?;
                if version == 0 {
                    cx.error_spanned_by(&lit, "event versions start at 1");
                }
                out.version = Some(version);
            }
            _ => out.upcast_from = Some(meta.value()?.parse()?),
        }
        Ok(())
    });
    out
}

/// `#[pii(subject = field)]`: the field naming the person an event's `Pii` values are about.
pub fn pii_subject(cx: &Ctxt, attrs: &[Attribute]) -> Option<Ident> {
    let mut subject = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(PII)) {
        if let Meta::Path(path) = &attr.meta {
            cx.error_spanned_by(
                path,
                "`#[pii]` names the field that identifies the person: `#[pii(subject = customer_id)]`",
            );
        }
    }
    for_each_key(cx, attrs, PII, PII_KEYS, |_, meta| {
        subject = Some(meta.value()?.parse()?);
        Ok(())
    });
    subject
}

pub fn aggregate_attrs(cx: &Ctxt, attrs: &[Attribute]) -> AggregateAttrs {
    let mut out = AggregateAttrs::default();
    for_each_key(cx, attrs, AGGREGATE, AGGREGATE_KEYS, |key, meta| {
        match key {
            NAME => out.name = Some(stored_name(cx, meta.value()?.parse()?)),
            _ => {
                let lit: LitInt = meta.value()?.parse()?;
                let every: u64 = lit.base10_parse()?;
                if every == 0 {
                    cx.error_spanned_by(&lit, "`snapshot_every` must be at least 1; leave it out for no snapshots");
                }
                out.snapshot_every = Some((every, lit));
            }
        }
        Ok(())
    });
    out
}

pub fn projection_attrs(cx: &Ctxt, attrs: &[Attribute]) -> ProjectionAttrs {
    let mut out = ProjectionAttrs::default();
    for_each_key(cx, attrs, PROJECTION, PROJECTION_KEYS, |_, meta| {
        out.name = Some(stored_name(cx, meta.value()?.parse()?));
        Ok(())
    });
    out
}

pub fn process_attrs(cx: &Ctxt, attrs: &[Attribute]) -> ProcessAttrs {
    let mut out = ProcessAttrs::default();
    for_each_key(cx, attrs, PROCESS, PROCESS_KEYS, |key, meta| {
        match key {
            NAME => out.name = Some(stored_name(cx, meta.value()?.parse()?)),
            _ => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let types = content.parse_terminated(Type::parse, Token![,])?;
                for ty in types {
                    let text = quote::ToTokens::to_token_stream(&ty).to_string();
                    if out.sends.iter().any(|known| quote::ToTokens::to_token_stream(known).to_string() == text) {
                        cx.error_spanned_by(&ty, format!("`{text}` is listed twice in `sends`"));
                        continue;
                    }
                    out.sends.push(ty);
                }
            }
        }
        Ok(())
    });
    out
}

/// Reads a process manager's `#[on(..)]` from the attributes of one method.
pub fn process_on_attrs(cx: &Ctxt, attrs: &[Attribute]) -> ProcessOnAttrs {
    let mut out = ProcessOnAttrs::default();
    for_each_key(cx, attrs, ON, PROCESS_ON_KEYS, |key, meta| {
        match key {
            START | END => {
                if meta.input.peek(Token![=]) {
                    cx.error_spanned_by(&meta.path, format!("`{key}` takes no value: write `#[on({key})]`"));
                }
                if key == START {
                    out.start = true;
                } else {
                    out.end = true;
                }
            }
            CORRELATE => match meta.value()?.parse::<Ident>() {
                Ok(field) => out.correlate = Some(field),
                Err(_) => cx.error_spanned_by(
                    &meta.path,
                    "`correlate` names the event's field that holds the instance key, such as `correlate = order_id`",
                ),
            },
            _ => out.aggregate = Some(stored_name(cx, meta.value()?.parse()?)),
        }
        Ok(())
    });
    // A misspelled flag (`strat`, reported above) counts as the flag it is closest to, so
    // that the one mistake is not reported again as a missing `#[on(start)]`.
    for attr in attrs.iter().filter(|a| a.path().is_ident(ON)) {
        let Meta::List(list) = &attr.meta else { continue };
        for token in list.tokens.clone() {
            let TokenTree::Ident(word) = token else { continue };
            let word = word.to_string();
            if PROCESS_ON_KEYS.contains(&word.as_str()) {
                continue;
            }
            match suggest(&word, PROCESS_ON_KEYS) {
                Some(START) => out.start = true,
                Some(END) => out.end = true,
                _ => {}
            }
        }
    }
    out
}

/// Reads `#[on(..)]` from the attributes of one method.
pub fn on_attrs(cx: &Ctxt, attrs: &[Attribute]) -> OnAttrs {
    let mut out = OnAttrs::default();
    for_each_key(cx, attrs, ON, ON_KEYS, |_, meta| {
        out.aggregate = Some(stored_name(cx, meta.value()?.parse()?));
        Ok(())
    });
    out
}

/// Reads `#[command(..)]` from the attributes of one method.
pub fn command_attrs(cx: &Ctxt, attrs: &[Attribute]) -> CommandAttrs {
    let mut out = CommandAttrs::default();
    for_each_key(cx, attrs, COMMAND, COMMAND_KEYS, |_, meta| {
        let lit: LitStr = meta.value()?.parse()?;
        match lit.parse::<Ident>() {
            Ok(ident) => out.name = Some(ident),
            Err(_) => cx.error_spanned_by(&lit, "a command name becomes an enum variant: it must be a Rust identifier"),
        }
        Ok(())
    });
    out
}

pub fn handlers_args(cx: &Ctxt, args: proc_macro2::TokenStream) -> HandlersArgs {
    let mut out = HandlersArgs::default();
    let mut seen = Vec::new();
    let parser = syn::meta::parser(|meta| {
        key_of(cx, "handlers", HANDLERS_KEYS, &mut seen, &meta, &mut |_, meta| {
            let lit: LitStr = meta.value()?.parse()?;
            out.vis = Some(lit.parse()?);
            Ok(())
        })
    });
    if let Err(error) = parser.parse2(args) {
        cx.syn_error(error);
    }
    out
}

/// Reports every misspelled marker of a `#[handlers]` block (`#[comand]`) with the marker it
/// is closest to, and corrects it in place: the method is then modelled as the user meant, so
/// the one mistake is reported once, and rustc does not add "cannot find attribute".
///
/// Only a single-segment attribute close to one of our markers counts: `#[inline]`,
/// `#[allow(..)]`, `#[doc]`, `#[cfg(..)]` or `#[tracing::instrument]` are the user's.
pub fn correct_misspelled_markers(cx: &Ctxt, item: &mut HandlersImpl) {
    for member in &mut item.members {
        let Member::Method(method) = member else { continue };
        for attr in &mut method.attrs {
            correct_marker(cx, attr, METHOD_MARKERS);
        }
        for arg in &mut method.sig.inputs {
            if let syn::FnArg::Typed(pat_type) = arg {
                for attr in &mut pat_type.attrs {
                    correct_marker(cx, attr, PARAM_MARKERS);
                }
            }
        }
    }
}

fn correct_marker(cx: &Ctxt, attr: &mut Attribute, markers: &[&'static str]) {
    let Some(close) = misspelled_marker(attr, markers) else { return };
    let path = attr.path();
    cx.error_spanned_by(
        path,
        format!("unknown attribute `#[{}]`; did you mean `#[{close}]`?", quote::ToTokens::to_token_stream(path)),
    );
    let span = path.segments[0].ident.span();
    let path = match &mut attr.meta {
        Meta::Path(path) => path,
        Meta::List(list) => &mut list.path,
        Meta::NameValue(name_value) => &mut name_value.path,
    };
    path.segments[0].ident = Ident::new(close, span);
}

/// The marker `attr` looks like a typo of, if it is not one of them already.
fn misspelled_marker(attr: &Attribute, markers: &[&'static str]) -> Option<&'static str> {
    let word = attr.path().get_ident()?.to_string();
    if markers.contains(&word.as_str()) {
        return None;
    }
    suggest(&word, markers)
}

/// Calls `on_key` for every known key of every `#[word(..)]` among `attrs`.
fn for_each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    word: &str,
    keys: &'static [&'static str],
    mut on_key: impl FnMut(&'static str, &ParseNestedMeta) -> syn::Result<()>,
) {
    let mut seen = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(word)) {
        if let Meta::Path(_) = attr.meta {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| key_of(cx, word, keys, &mut seen, &meta, &mut on_key));
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
}

/// Dispatches one `key = value`: unknown keys get a suggestion, a repeated key an error, a
/// bad value an error; each then skips to the next key so that parsing goes on.
fn key_of(
    cx: &Ctxt,
    word: &str,
    keys: &'static [&'static str],
    seen: &mut Vec<String>,
    meta: &ParseNestedMeta,
    on_key: &mut dyn FnMut(&'static str, &ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_default();
    match keys.iter().find(|k| **k == key) {
        Some(_) if seen.contains(&key) => {
            cx.error_spanned_by(&meta.path, format!("`{key}` is given twice in `#[{word}(..)]`"));
        }
        Some(&known) => {
            seen.push(key);
            if let Err(error) = on_key(known, meta) {
                cx.syn_error(error);
            }
        }
        None => {
            let shown = if key.is_empty() { quote::ToTokens::to_token_stream(&meta.path).to_string() } else { key };
            let hint = match suggest(&shown, keys) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!("; expected {}", one_of(keys)),
            };
            cx.error_spanned_by(&meta.path, format!("unknown key `{shown}` in `#[{word}(..)]`{hint}"));
        }
    }
    skip_value(meta)
}

/// Consumes what is left of a key's value, up to the next comma.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    let input = meta.input;
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Checks a stored name: not empty, printable, at most 255 bytes.
fn stored_name(cx: &Ctxt, lit: LitStr) -> LitStr {
    let value = lit.value();
    if value.is_empty() {
        cx.error_spanned_by(&lit, "a stored name cannot be empty");
    } else if value.len() > 255 {
        cx.error_spanned_by(&lit, "a stored name is at most 255 bytes long");
    } else if value.chars().any(char::is_control) {
        cx.error_spanned_by(&lit, "a stored name cannot contain control characters");
    }
    lit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(attr: Attribute) -> Option<&'static str> {
        misspelled_marker(&attr, METHOD_MARKERS).or_else(|| misspelled_marker(&attr, PARAM_MARKERS))
    }

    #[test]
    fn corrects_misspelled_markers() {
        assert_eq!(flagged(syn::parse_quote!(#[comand])), Some(COMMAND));
        assert_eq!(flagged(syn::parse_quote!(#[comand(name = "Open")])), Some(COMMAND));
        assert_eq!(flagged(syn::parse_quote!(#[aply])), Some(APPLY));
        assert_eq!(flagged(syn::parse_quote!(#[qurey])), Some(QUERY));
        assert_eq!(flagged(syn::parse_quote!(#[servces])), Some(SERVICES));
        assert_eq!(flagged(syn::parse_quote!(#[deadlin])), Some(DEADLINE));
        assert_eq!(flagged(syn::parse_quote!(#[rejeted])), Some(REJECTED));
        assert_eq!(flagged(syn::parse_quote!(#[command])), None);
    }

    #[test]
    fn leaves_foreign_attributes_alone() {
        let foreign: [Attribute; 16] = [
            syn::parse_quote!(#[inline]),
            syn::parse_quote!(#[inline(always)]),
            syn::parse_quote!(#[allow(dead_code)]),
            syn::parse_quote!(#[doc = "Opens it."]),
            syn::parse_quote!(#[cfg(test)]),
            syn::parse_quote!(#[cfg_attr(test, allow(unused))]),
            syn::parse_quote!(#[must_use]),
            syn::parse_quote!(#[deprecated]),
            syn::parse_quote!(#[expect(unused)]),
            syn::parse_quote!(#[warn(missing_docs)]),
            syn::parse_quote!(#[deny(warnings)]),
            syn::parse_quote!(#[cold]),
            syn::parse_quote!(#[track_caller]),
            syn::parse_quote!(#[instrument]),
            syn::parse_quote!(#[tracing::instrument]),
            syn::parse_quote!(#[factum::comand]),
        ];
        for attr in foreign {
            assert_eq!(flagged(attr.clone()), None, "{}", quote::ToTokens::to_token_stream(&attr));
        }
    }
}
