//! `factum-shop-sales`: the sales board on http://127.0.0.1:3001, a second service fed only
//! through NATS with the events the shop publishes (`factum-shop --nats URL`). Its read model
//! lives in a SQLite file of its own.
//!
//! ```text
//! bash scripts/nats.sh start /tmp/nats                                   # prints the URL
//! cargo run -p factum-shop --features nats -- --nats nats://127.0.0.1:PORT
//! cargo run -p factum-shop --features nats --bin factum-shop-sales -- --nats nats://127.0.0.1:PORT
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

mod board;

/// The sales board: the shop's sales, fed through NATS JetStream.
#[derive(Debug, Parser)]
#[command(name = "factum-shop-sales", version)]
struct Options {
    /// The NATS server the shop publishes to.
    #[arg(long, value_name = "URL", env = "FACTUM_SHOP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The SQLite file of the board's own read model and checkpoint.
    #[arg(long, value_name = "PATH", env = "FACTUM_SALES_DB", default_value = "sales.db")]
    db: PathBuf,
    /// Where to listen.
    #[arg(long, value_name = "HOST:PORT", env = "FACTUM_SALES_ADDR", default_value = "127.0.0.1:3001")]
    addr: String,
}

fn main() -> ExitCode {
    let options = Options::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("factum-shop-sales: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("the sales board stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let local = factum::SqliteStore::open(&options.db).await?;
    let subscriber = Arc::new(board::subscribe(local, &options.nats, factum_shop::NATS_SOURCE).await?);
    let listener = tokio::net::TcpListener::bind(&options.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", options.addr))?;
    tracing::info!("sales board on http://{}, fed from NATS at {}", listener.local_addr()?, options.nats);
    let consuming = tokio::spawn({
        let subscriber = subscriber.clone();
        async move { subscriber.run().await }
    });
    let served = axum::serve(listener, board::router(subscriber.clone()));
    tokio::select! {
        served = served => served?,
        consumed = consuming => {
            let error = match consumed {
                Ok(Err(error)) => error.to_string(),
                Ok(Ok(never)) => match never {},
                Err(panicked) => panicked.to_string(),
            };
            return Err(format!("the read model stopped: {error}").into());
        }
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
    }
    subscriber.runner().save_checkpoint().await?;
    Ok(())
}
