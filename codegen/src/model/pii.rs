//! The personal data of an event: its `Pii` fields and the field naming their subject,
//! checked so that every value the store must seal has a subject to be sealed for.

use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::names::suggest;

/// The field named by `#[pii(subject = field)]`, checked: it exists and is not `Pii`. Every
/// field holding a `Pii` in an event without a subject is reported, each at its type.
pub fn subject(cx: &Ctxt, input: &DeriveInput) -> Option<Ident> {
    let subject = attr::pii_subject(cx, &input.attrs);
    let event = &input.ident;
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(fields),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        if let Some(subject) = &subject {
            cx.error_spanned_by(
                subject,
                "`#[pii(subject = ..)]` names a field, so the event must be a struct with named fields",
            );
        }
        for field in fields_of(&input.data) {
            if holds_pii(&field.ty) {
                cx.error_spanned_by(
                    &field.ty,
                    format!(
                        "`{event}` holds personal data (`Pii`) but cannot name its subject: only a struct with named fields can, with `#[pii(subject = field)]`"
                    ),
                );
            }
        }
        return None;
    };
    let Some(subject) = subject else {
        // A `#[pii(..)]` that did not parse is reported already: its fields are not again.
        let attempted = input.attrs.iter().any(|a| a.path().is_ident(crate::symbol::PII));
        for field in named.named.iter().filter(|_| !attempted) {
            if holds_pii(&field.ty) {
                let name = field.ident.as_ref().map(Ident::to_string).unwrap_or_default();
                cx.error_spanned_by(
                    &field.ty,
                    format!(
                        "`{name}` holds personal data (`Pii`), but `{event}` names no subject: add `#[pii(subject = field)]` on the event, naming the field that identifies the person"
                    ),
                );
            }
        }
        return None;
    };
    match named.named.iter().find(|field| field.ident.as_ref() == Some(&subject)) {
        None => {
            let names: Vec<String> =
                named.named.iter().filter_map(|f| f.ident.as_ref()).map(Ident::to_string).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = match suggest(&subject.to_string(), &names) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => String::new(),
            };
            cx.error_spanned_by(&subject, format!("`{event}` has no field `{subject}`{hint}"));
            None
        }
        Some(field) if holds_pii(&field.ty) => {
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "the subject `{subject}` cannot be `Pii` itself: it is how the store finds the person's key, so it stays readable (use an opaque id, not a name or an e-mail)"
                ),
            );
            None
        }
        Some(_) => Some(subject),
    }
}

fn fields_of(data: &Data) -> Vec<&syn::Field> {
    match data {
        Data::Struct(data) => data.fields.iter().collect(),
        Data::Enum(data) => data.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(data) => data.fields.named.iter().collect(),
    }
}

/// True when `ty` is `Pii<..>`, or holds one in its type arguments (`Option<Pii<String>>`).
fn holds_pii(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.path.segments.iter().any(|segment| {
            segment.ident == "Pii"
                || match &segment.arguments {
                    PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                        GenericArgument::Type(inner) => holds_pii(inner),
                        _ => false,
                    }),
                    _ => false,
                }
        }),
        Type::Array(array) => holds_pii(&array.elem),
        Type::Slice(slice) => holds_pii(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().any(holds_pii),
        Type::Paren(inner) => holds_pii(&inner.elem),
        Type::Group(inner) => holds_pii(&inner.elem),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pii_at_any_depth_of_type_arguments() {
        let holds = |ty: &str| holds_pii(&syn::parse_str(ty).unwrap());
        assert!(holds("Pii<String>") && holds("factum::Pii<String>") && holds("Option<Vec<Pii<String>>>"));
        assert!(holds("(u8, Pii<u8>)") && holds("[Pii<u8>; 2]"));
        assert!(!holds("String") && !holds("Option<PiiLike>"));
    }
}
