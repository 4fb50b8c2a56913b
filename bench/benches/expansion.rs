//! Build cost: the time `#[handlers]` takes to expand an aggregate with 50 commands and 50
//! events, calling the code generator (`factum_codegen::handlers`) on proc_macro2 tokens,
//! as the compiler's macro call does.
//!
//! `cargo bench -p factum-bench --bench expansion`. Without `--bench` it returns at once.

use std::hint::black_box;

use criterion::{BatchSize, Criterion};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// `impl Big { ... }` with `n` commands, each returning its own event, and `n` applies.
fn aggregate(n: usize) -> TokenStream {
    let mut items = TokenStream::new();
    for i in 0..n {
        let command = Ident::new(&format!("command_{i}"), Span::call_site());
        let apply = Ident::new(&format!("apply_{i}"), Span::call_site());
        let event = Ident::new(&format!("Happened{i}"), Span::call_site());
        items.extend(quote! {
            /// A command.
            #[command]
            pub fn #command(&self, amount: u64, note: String) -> Result<#event, BigError> {
                if amount == 0 { return Err(BigError::Zero) }
                Ok(#event { amount, note })
            }

            #[apply]
            fn #apply(&mut self, e: &#event) { self.total += e.amount; }
        });
    }
    quote! { impl Big { #items } }
}

fn expansion(c: &mut Criterion) {
    let input = aggregate(50);
    let expanded = factum_codegen::handlers(TokenStream::new(), input.clone());
    assert!(!expanded.to_string().contains("compile_error"), "the 50-command aggregate must expand without errors");
    c.bench_function("expand #[handlers], 50 commands + 50 events", |b| {
        b.iter_batched(
            || input.clone(),
            |input| factum_codegen::handlers(TokenStream::new(), black_box(input)),
            BatchSize::SmallInput,
        )
    });
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("expansion: a benchmark; run it with `cargo bench -p factum-bench --bench expansion`");
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    expansion(&mut criterion);
    criterion.final_summary();
}
