//! A shop served on 127.0.0.1 for the tests, and a small HTTP client to talk to it.

#![allow(dead_code)] // each test file uses its own part of this

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use factum::EventStore;
use factum_shop::Shop;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A running shop. Dropping it stops the server.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A fresh directory under the target dir, removed at the start of the next run.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("shop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Running {
    /// Serves a shop on `store` on a free port of 127.0.0.1.
    pub async fn start<S: EventStore + Clone>(store: S) -> Running {
        Running::start_with_payment_window(store, factum_shop::models::DEFAULT_PAYMENT_WINDOW).await
    }

    /// Serves a shop on `store` whose new orders wait `window` for their payment.
    pub async fn start_with_payment_window<S: EventStore + Clone>(store: S, window: std::time::Duration) -> Running {
        let shop = Arc::new(Shop::open_with_payment_window(store, window).await.expect("the shop opens"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(factum_shop::serve(listener, shop, async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Running { addr, stop: Some(stop), server: Some(server), client }
    }

    /// Serves a shop on a new SQLite file in `dir`.
    pub async fn sqlite(dir: &std::path::Path) -> Running {
        Running::start(factum::SqliteStore::open(dir.join("shop.db")).await.unwrap()).await
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let mut request = hyper::Request::builder().method(method).uri(self.url(path));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = self.client.request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        let header = |name| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (status, location, content_type) =
            (response.status().as_u16(), header("location"), header("content-type").unwrap_or_default());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, location, content_type, body: String::from_utf8(bytes.to_vec()).unwrap() }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, Vec::new()).await
    }

    /// Posts a form, as a browser does.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        self.send("POST", path, Some("application/x-www-form-urlencoded"), body.into_bytes()).await
    }

    pub async fn post_json(&self, path: &str, json: &str) -> Answer {
        self.send("POST", path, Some("application/json"), json.as_bytes().to_vec()).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send("POST", path, Some(content_type), body).await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The id of the product called `name`, read from the JSON catalog.
pub async fn product_id(shop: &Running, name: &str) -> String {
    let catalog = shop.post_json("/api/queries/catalog", r#""Products""#).await.json();
    let products = catalog["Products"].as_array().expect("the Products answer holds a list");
    let product = products.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name} in {catalog}"));
    product["id"].as_str().unwrap().to_owned()
}
