//! The command line: where the events live and where to listen.

use std::process::ExitCode;
use std::sync::Arc;

use factum::EventStore;

use crate::Shop;

const USAGE: &str = "\
usage: shop [--db PATH] [--postgres URL] [--addr HOST:PORT]

  --db PATH          the SQLite file of the events (default shop.db; env FACTUM_SHOP_DB)
  --postgres URL     use PostgreSQL instead (built with --features postgres;
                     env FACTUM_SHOP_POSTGRES_URL)
  --addr HOST:PORT   where to listen (default 127.0.0.1:3000; env FACTUM_SHOP_ADDR)";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub db: String,
    pub postgres: Option<String>,
    pub addr: String,
}

impl Options {
    /// Reads `args` (without the program name), falling back to the environment, then to the
    /// defaults.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Options, String> {
        let mut options = Options {
            db: env("FACTUM_SHOP_DB").unwrap_or_else(|| "shop.db".to_owned()),
            postgres: env("FACTUM_SHOP_POSTGRES_URL"),
            addr: env("FACTUM_SHOP_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned()),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let slot = match flag.as_str() {
                "--db" => &mut options.db,
                "--addr" => &mut options.addr,
                "--postgres" => options.postgres.insert(String::new()),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            };
            *slot = args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        }
        Ok(options)
    }
}

/// Parses the command line, opens the store and serves until Ctrl-C.
pub fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("shop: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shop: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    match &options.postgres {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let store = factum::PostgresStore::connect(url).await?;
            start(store, "PostgreSQL".to_owned(), &options.addr).await
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err("this shop was built without PostgreSQL: run it with `--features postgres`".into()),
        None => {
            let store = factum::SqliteStore::open(&options.db).await?;
            start(store, format!("SQLite file {}", options.db), &options.addr).await
        }
    }
}

async fn start<S: EventStore + Clone>(
    store: S,
    described: String,
    addr: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let shop = Arc::new(Shop::open(store).await?);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    println!("factum shop on http://{} (events in the {described}); Ctrl-C stops it", listener.local_addr()?);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    crate::serve(listener, shop, ctrl_c).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Options::parse(args.iter().map(|a| a.to_string()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn flags_beat_the_environment_which_beats_defaults() {
        let defaults = parse(&[], &[]).unwrap();
        assert_eq!(defaults, Options { db: "shop.db".into(), postgres: None, addr: "127.0.0.1:3000".into() });
        let from_env = parse(&[], &[("FACTUM_SHOP_DB", "/tmp/a.db")]).unwrap();
        assert_eq!(from_env.db, "/tmp/a.db");
        let flags = parse(&["--db", "b.db", "--addr", "127.0.0.1:0"], &[("FACTUM_SHOP_DB", "/tmp/a.db")]).unwrap();
        assert_eq!((flags.db.as_str(), flags.addr.as_str()), ("b.db", "127.0.0.1:0"));
        assert_eq!(parse(&["--postgres", "postgres://x"], &[]).unwrap().postgres.as_deref(), Some("postgres://x"));
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(parse(&["--port", "1"], &[]).unwrap_err().starts_with("unknown argument \"--port\""));
        assert!(parse(&["--db"], &[]).unwrap_err().starts_with("--db needs a value"));
    }
}
