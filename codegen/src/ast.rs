//! The parsed `#[handlers]` impl block. Method signatures are parsed; method bodies are kept
//! as opaque token groups, which is both faster and immune to syntax syn does not know.

use proc_macro2::{Group, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Generics, ImplItem, Path, Signature, Token, Type, Visibility, braced};

/// `impl Type { members }`, as written.
pub struct HandlersImpl {
    pub attrs: Vec<Attribute>,
    pub unsafety: Option<Token![unsafe]>,
    pub impl_token: Token![impl],
    pub generics: Generics,
    pub trait_: Option<(Path, Token![for])>,
    pub self_ty: Type,
    pub brace_token: syn::token::Brace,
    pub inner_attrs: Vec<Attribute>,
    pub members: Vec<Member>,
}

/// One member of the impl block.
// Lives only while one macro expands: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Member {
    /// A method, body unparsed.
    Method(Method),
    /// Anything else (constants, types, macros), passed through untouched.
    Other(ImplItem),
}

/// A method: attributes, visibility, signature, and the body as an opaque `{ .. }` group.
pub struct Method {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub defaultness: Option<Token![default]>,
    pub sig: Signature,
    pub body: Group,
}

impl Parse for HandlersImpl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let unsafety = input.parse()?;
        let impl_token = input.parse()?;
        let mut generics: Generics = input.parse()?;
        let first: Type = input.parse()?;
        let (trait_, self_ty) = if input.peek(Token![for]) {
            let for_token: Token![for] = input.parse()?;
            let path = match first {
                Type::Path(type_path) if type_path.qself.is_none() => type_path.path,
                other => {
                    return Err(syn::Error::new_spanned(other, "expected a trait path before `for`"));
                }
            };
            (Some((path, for_token)), input.parse()?)
        } else {
            (None, first)
        };
        generics.where_clause = input.parse()?;
        let content;
        let brace_token = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let mut members = Vec::new();
        while !content.is_empty() {
            members.push(content.parse()?);
        }
        Ok(HandlersImpl { attrs, unsafety, impl_token, generics, trait_, self_ty, brace_token, inner_attrs, members })
    }
}

impl Parse for Member {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let fork = input.fork();
        if let Ok(method) = parse_method(&fork) {
            use syn::parse::discouraged::Speculative;
            input.advance_to(&fork);
            return Ok(Member::Method(method));
        }
        Ok(Member::Other(input.parse()?))
    }
}

fn parse_method(input: ParseStream) -> syn::Result<Method> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis = input.parse()?;
    let defaultness = input.parse()?;
    let sig = input.parse()?;
    let body: Group = input.parse()?;
    if body.delimiter() != proc_macro2::Delimiter::Brace {
        return Err(syn::Error::new(body.span(), "expected a method body"));
    }
    Ok(Method { attrs, vis, defaultness, sig, body })
}

impl ToTokens for HandlersImpl {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.unsafety.to_tokens(tokens);
        self.impl_token.to_tokens(tokens);
        self.generics.to_tokens(tokens);
        if let Some((path, for_token)) = &self.trait_ {
            path.to_tokens(tokens);
            for_token.to_tokens(tokens);
        }
        self.self_ty.to_tokens(tokens);
        self.generics.where_clause.to_tokens(tokens);
        self.brace_token.surround(tokens, |tokens| {
            tokens.append_all(&self.inner_attrs);
            for member in &self.members {
                match member {
                    Member::Method(method) => method.to_tokens(tokens),
                    Member::Other(item) => item.to_tokens(tokens),
                }
            }
        });
    }
}

impl ToTokens for Method {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.defaultness.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}
