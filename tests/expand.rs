//! Expansion snapshots: what the macros write, rendered readably and reviewed like code.
//!
//! Each input (`tests/expand/*.rs`, and `examples/bank.rs`) is expanded by calling
//! `factum-codegen` directly (no compiler round-trip), formatted with prettyplease, and
//! compared with `tests/expand/<name>.expanded.rs`. Only factum's macros are expanded; other
//! derives (serde's) stay as written.
//!
//! When the output changes on purpose, bless it and review the diff:
//! `FACTUM_BLESS=1 cargo test --test expand`.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Item};

#[test]
fn expansions_match_their_snapshots() {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir("tests/expand")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.to_string_lossy().ends_with(".expanded.rs"))
        .collect();
    inputs.sort();
    inputs.push(PathBuf::from("examples/bank.rs"));
    assert!(inputs.len() > 1, "no inputs under tests/expand");

    let bless = std::env::var_os("FACTUM_BLESS").is_some();
    let mut stale = Vec::new();
    for input in &inputs {
        let expanded = expand_file(input);
        let stem = input.file_stem().unwrap().to_string_lossy();
        let snapshot = Path::new("tests/expand").join(format!("{stem}.expanded.rs"));
        let current = std::fs::read_to_string(&snapshot).unwrap_or_default();
        if current != expanded {
            if bless {
                std::fs::write(&snapshot, &expanded).unwrap();
            } else {
                stale.push(format!("{} (from {})", snapshot.display(), input.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these expansions changed; review them, then bless with FACTUM_BLESS=1 cargo test --test expand:\n  {}",
        stale.join("\n  ")
    );
}

/// Expands factum's macros in one file, recursing into inline modules.
fn expand_file(path: &Path) -> String {
    let source = std::fs::read_to_string(path).unwrap();
    let mut file = syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.items = expand_items(std::mem::take(&mut file.items));
    let header = format!("// Expansion of {} by factum's macros. Generated: do not edit.\n", path.display());
    header + &prettyplease::unparse(&file)
}

fn expand_items(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Impl(mut imp) if imp.attrs.iter().any(|a| a.path().is_ident("handlers")) => {
                let args = take_handlers_args(&mut imp.attrs);
                push_tokens(&mut out, factum_codegen::handlers(args, imp.into_token_stream()));
            }
            Item::Mod(mut module) if module.content.is_some() => {
                let (brace, items) = module.content.take().unwrap();
                module.content = Some((brace, expand_items(items)));
                out.push(Item::Mod(module));
            }
            Item::Struct(_) | Item::Enum(_) => {
                let derives = derives_of(&item);
                let tokens = item.to_token_stream();
                out.push(item);
                if derives.iter().any(|d| d == "Event") {
                    push_tokens(&mut out, factum_codegen::derive_event(tokens.clone()));
                }
                if derives.iter().any(|d| d == "Aggregate") {
                    push_tokens(&mut out, factum_codegen::derive_aggregate(tokens.clone()));
                }
                if derives.iter().any(|d| d == "Projection") {
                    push_tokens(&mut out, factum_codegen::derive_projection(tokens.clone()));
                }
                if derives.iter().any(|d| d == "ProcessManager") {
                    push_tokens(&mut out, factum_codegen::derive_process_manager(tokens));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Removes `#[handlers(..)]` and returns what is inside its parentheses.
fn take_handlers_args(attrs: &mut Vec<Attribute>) -> TokenStream {
    let index = attrs.iter().position(|a| a.path().is_ident("handlers")).unwrap();
    match attrs.remove(index).meta {
        syn::Meta::List(list) => list.tokens,
        _ => TokenStream::new(),
    }
}

fn derives_of(item: &Item) -> Vec<String> {
    let attrs = match item {
        Item::Struct(s) => &s.attrs,
        Item::Enum(e) => &e.attrs,
        _ => return Vec::new(),
    };
    let mut names = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            names.push(meta.path.segments.last().unwrap().ident.to_string());
            Ok(())
        });
    }
    names
}

fn push_tokens(out: &mut Vec<Item>, tokens: TokenStream) {
    let file: syn::File = syn::parse2(tokens).expect("the macros write valid items");
    out.extend(file.items);
}
