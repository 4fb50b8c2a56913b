//! The web shop: `cargo run --example shop`, then open http://127.0.0.1:3000.
//!
//! The shop is its own crate, `examples/shop/` (models, views, controllers, tests); this file
//! only starts it. See `examples/shop/README.md`.

fn main() -> std::process::ExitCode {
    factum_shop::cli::main()
}
