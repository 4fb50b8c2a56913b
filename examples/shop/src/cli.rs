//! The command line: where the events live and where to listen.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use factum::EventStore;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::Shop;

/// The factum web shop: serves the shop until Ctrl-C.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "factum-shop", version)]
pub struct Options {
    /// The SQLite file of the events.
    #[arg(long, value_name = "PATH", env = "FACTUM_SHOP_DB", default_value = "shop.db")]
    pub db: PathBuf,
    /// Keep the events in PostgreSQL instead (needs the shop built with `--features postgres`).
    #[arg(long, value_name = "URL", env = "FACTUM_SHOP_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Where to listen.
    #[arg(long, value_name = "HOST:PORT", env = "FACTUM_SHOP_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: String,
    /// Also publish every event to NATS JetStream at this URL, for services elsewhere (needs
    /// the shop built with `--features nats`).
    #[arg(long, value_name = "URL", env = "FACTUM_SHOP_NATS_URL")]
    pub nats: Option<String>,
    /// How long a placed order waits for its payment before the shop cancels it, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "FACTUM_SHOP_PAYMENT_WINDOW_SECS",
        default_value_t = crate::models::DEFAULT_PAYMENT_WINDOW.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub payment_window_secs: u64,
    /// The master key that wraps the customers' keys in the store, as 64 hex digits
    /// (`openssl rand -hex 32`). Without it, the keys sit in the store as they are, and a copy
    /// of the database reads every customer not forgotten. Best given through the
    /// environment, so that it does not show in the process list.
    #[arg(long, value_name = "HEX", env = "FACTUM_SHOP_MASTER_KEY", hide_env_values = true, value_parser = master_key)]
    pub master_key: Option<factum::MasterKey>,
}

/// A master key from 64 hex digits.
fn master_key(hex: &str) -> Result<factum::MasterKey, factum::pii::MasterKeyError> {
    factum::MasterKey::from_hex(hex)
}

/// Parses the command line, opens the store and serves until Ctrl-C. A bad command line (or
/// RUST_LOG) exits with a message on stderr and status 2; from then on, everything goes to
/// the log.
pub fn main() -> ExitCode {
    let options = Options::parse();
    if options.postgres.is_some() && !cfg!(feature = "postgres") {
        let message = "--postgres needs the shop built with PostgreSQL: `cargo run -p factum-shop --features postgres`";
        Options::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit();
    }
    if options.nats.is_some() && !cfg!(feature = "nats") {
        let message = "--nats needs the shop built with NATS: `cargo run -p factum-shop --features nats`";
        Options::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit();
    }
    if let Err(error) = start_logging() {
        eprintln!("factum-shop: RUST_LOG: {error}");
        return ExitCode::from(2);
    }
    let served = tokio::runtime::Runtime::new().map_err(Into::into).and_then(|runtime| runtime.block_on(run(options)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(caused_by = ?crate::causes(&*error), "the shop stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr what RUST_LOG asks for (`info` and up when it is unset).
fn start_logging() -> Result<(), tracing_subscriber::filter::FromEnvError> {
    let filter = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).from_env()?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    Ok(())
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(feature = "postgres")]
    if let Some(url) = &options.postgres {
        let mut store = factum::PostgresStore::connect(url).await?;
        if let Some(master) = options.master_key.clone() {
            store = store.with_key_wrap(master);
        }
        return start(store, "PostgreSQL database".to_owned(), &options).await;
    }
    let mut store = factum::SqliteStore::open(&options.db).await?;
    if let Some(master) = options.master_key.clone() {
        store = store.with_key_wrap(master);
    }
    start(store, format!("SQLite file {}", options.db.display()), &options).await
}

async fn start<S: EventStore + Clone>(
    store: S,
    described: String,
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr = &options.addr;
    #[cfg(feature = "nats")]
    if let Some(url) = &options.nats {
        publish(store.clone(), url).await?;
    }
    let window = std::time::Duration::from_secs(options.payment_window_secs);
    let shop = Arc::new(Shop::open_with_payment_window(store, window).await?);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    tracing::info!("factum shop on http://{} (events in the {described}); Ctrl-C stops it", listener.local_addr()?);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping once the open requests are answered");
    };
    crate::serve(listener, shop, ctrl_c).await?;
    Ok(())
}

/// Publishes the shop's events to NATS in the background, for as long as the shop runs;
/// while NATS is away the publisher waits and the shop goes on.
#[cfg(feature = "nats")]
async fn publish<S: EventStore + Clone>(store: S, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    use factum::nats::{NatsPublisher, async_nats};
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|error| format!("cannot connect to NATS at {url}: {error}"))?;
    let publisher = NatsPublisher::new(store, async_nats::jetstream::new(client), crate::NATS_SOURCE)?;
    tracing::info!("publishing the events to NATS at {url}, stream {}", publisher.stream_name());
    tokio::spawn(async move {
        let Err(error) = publisher.run().await;
        tracing::error!("publishing to NATS stopped: {error}");
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    use super::Options;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("factum-shop").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Options::command().debug_assert();
    }

    /// The defaults and environment fallbacks as declared. (Asked of the command rather than
    /// parsed, so that a FACTUM_SHOP_* variable set in the caller's shell cannot change the
    /// outcome.)
    #[test]
    fn each_flag_falls_back_to_its_variable_then_to_its_default() {
        let command = Options::command();
        let fallback = |long: &str| {
            let arg = command.get_arguments().find(|arg| arg.get_long() == Some(long)).unwrap();
            let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
            let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into()).collect();
            (env, defaults)
        };
        assert_eq!(fallback("db"), (Some("FACTUM_SHOP_DB".into()), vec!["shop.db".into()]));
        assert_eq!(fallback("postgres"), (Some("FACTUM_SHOP_POSTGRES_URL".into()), vec![]));
        assert_eq!(fallback("addr"), (Some("FACTUM_SHOP_ADDR".into()), vec!["127.0.0.1:3000".into()]));
        assert_eq!(
            fallback("payment-window-secs"),
            (Some("FACTUM_SHOP_PAYMENT_WINDOW_SECS".into()), vec!["900".into()])
        );
    }

    #[test]
    fn flags_are_read() {
        let options = parse(&["--db", "b.db", "--addr", "127.0.0.1:0", "--postgres", "postgres://x"]).unwrap();
        let expected = Options {
            db: "b.db".into(),
            postgres: Some("postgres://x".into()),
            addr: "127.0.0.1:0".into(),
            nats: None,
            payment_window_secs: 900,
            master_key: None,
        };
        assert_eq!(options, expected);
        assert_eq!(parse(&["--db=c.db", "--addr", "127.0.0.1:0"]).unwrap().db, std::path::Path::new("c.db"));
    }

    #[test]
    fn bad_flags_are_named() {
        let unknown = parse(&["--port", "1"]).unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::UnknownArgument);
        assert!(unknown.to_string().contains("unexpected argument '--port'"), "{unknown}");
        let missing = parse(&["--db"]).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::InvalidValue);
        assert!(missing.to_string().contains("a value is required for '--db <PATH>'"), "{missing}");
        assert_eq!(parse(&["--help"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
        let short = parse(&["--master-key", "abc"]).unwrap_err().to_string();
        assert!(short.contains("--master-key <HEX>") && short.contains("64 hex digits"), "{short}");
    }

    #[test]
    fn a_master_key_is_read() {
        let hex = "8f1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ff";
        let options = parse(&["--master-key", hex]).unwrap();
        assert_eq!(options.master_key, Some(factum::MasterKey::from_hex(hex).unwrap()));
        assert_eq!(format!("{:?}", options.master_key), "Some(MasterKey(..))", "Debug does not show it");
    }
}
