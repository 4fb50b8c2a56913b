//! `factum-shop`: serves the shop on http://127.0.0.1:3000.
//!
//! ```text
//! cargo run -p factum-shop                          # SQLite file shop.db
//! cargo run -p factum-shop -- --db /tmp/shop.db --addr 127.0.0.1:8080
//! cargo run -p factum-shop --features postgres -- --postgres postgres://user@127.0.0.1/shop
//! ```

fn main() -> std::process::ExitCode {
    factum_shop::cli::main()
}
