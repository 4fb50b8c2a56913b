//! The sales board fed only through NATS: the shop's events published, consumed by the
//! board into its own store, and served. Needs the feature `nats` and FACTUM_NATS_URL (the
//! README's test command sets both); without the URL it says it skipped.
#![cfg(feature = "nats")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use factum::MemoryStore;
use factum::nats::{NatsPublisher, async_nats};
use factum_shop::Shop;
use factum_shop::models::{LineRequest, OrderCommand, ProductCommand};

#[path = "../src/bin/sales/board.rs"]
mod board;
use board::Sales;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sales_board_sees_the_shop_through_nats_only() {
    let url = match std::env::var("FACTUM_NATS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("CI needs FACTUM_NATS_URL"),
        _ => return eprintln!("SKIPPED: needs FACTUM_NATS_URL"),
    };
    let shop_store = MemoryStore::new();
    let shop = Shop::open(shop_store.clone()).await.unwrap();
    shop.product("p-tea", ProductCommand::AddToCatalog { name: "Tea".into(), price: 450 }).await.unwrap();
    for (order, quantity) in [("o-1", 3), ("o-2", 1), ("o-3", 2)] {
        let lines = vec![LineRequest { product: "p-tea".into(), quantity }];
        let (customer_id, name, address) = ("c-1815".into(), "Ada Lovelace".into(), "London".into());
        shop.order(order, OrderCommand::Place { customer_id, name, address, lines }).await.unwrap();
    }
    shop.order("o-1", OrderCommand::Pay).await.unwrap();
    shop.order("o-1", OrderCommand::Ship).await.unwrap();
    shop.order("o-2", OrderCommand::Cancel).await.unwrap();

    // A source name of its own, so that runs never share a stream.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let source = format!("shop-test-{}-{}", std::process::id(), nanos % 1_000_000_000_000);
    let jetstream = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    let publisher = NatsPublisher::new(shop_store.clone(), jetstream.clone(), &source).unwrap();
    publisher.ensure_stream().await.unwrap();
    assert_eq!(publisher.publish_pending().await.unwrap(), 7);

    // The board: its own store, the shop's events only through NATS.
    let board = Arc::new(board::subscribe(MemoryStore::new(), &url, &source).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while board.consume_available().await.unwrap() < 7 {
        assert!(Instant::now() < deadline, "the board did not catch up");
    }
    let sales = board.runner().state().await;
    let expected = Sales { placed: 3, paid: 1, shipped: 1, cancelled: 1, ordered: 2_700, revenue: 1_350, position: 7 };
    assert_eq!(sales, expected);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move { axum::serve(listener, board::router(board)).await });
    let mut connection = tokio::net::TcpStream::connect(addr).await.unwrap();
    connection.write_all(b"GET /api/sales HTTP/1.0\r\nHost: board\r\n\r\n").await.unwrap();
    let mut response = String::new();
    connection.read_to_string(&mut response).await.unwrap();
    serving.abort();
    assert!(response.starts_with("HTTP/1.0 200 OK"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(serde_json::from_str::<Sales>(body).unwrap(), expected);
}
