//! Collects every error of one macro invocation, so the user sees them all at once.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The error collector: every check reports here and goes on.
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    /// A collector with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports `message` at the span of `tokens`.
    pub fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.errors.borrow_mut().push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Reports an error syn produced.
    pub fn syn_error(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// True when nothing has been reported.
    pub fn is_ok(&self) -> bool {
        self.errors.borrow().is_empty()
    }

    /// Every error as `compile_error!` invocations at their spans, in the order reported.
    pub fn into_compile_errors(self) -> TokenStream {
        self.errors.into_inner().iter().map(syn::Error::to_compile_error).collect()
    }
}
