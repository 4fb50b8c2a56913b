//! End to end in a real headless Chromium, driven over WebDriver (chromedriver): add a
//! product through the form, place an order, pay it with the one button a placed order
//! offers for it, and read the status page. Saves a
//! screenshot of that page to `target/shop-screenshot.png` (and to
//! `examples/shop/screenshot.png`, the README's picture, with `FACTUM_BLESS=1`).
//!
//! Ignored by a plain `cargo test`, as it needs Debian's `chromium` and `chromium-driver`
//! (`bash scripts/browser.sh install`). `bash scripts/test` runs it wherever they are found,
//! and CI installs them first. Set `FACTUM_CHROMIUM` / `FACTUM_CHROMEDRIVER` to use others.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, scratch_dir};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// The first of `env` (if set) and `candidates` that exists.
fn find(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Some(PathBuf::from(path));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    // Headless, and quiet on the network: this machine reaches nothing but 127.0.0.1.
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,860",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let options = serde_json::json!({ "binary": chromium, "args": args });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in Chromium")
}

/// The text of the element `css`, waiting (up to 10 s) for it to appear.
async fn text_of(browser: &Client, css: &str) -> String {
    let element = browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
    element.unwrap_or_else(|e| panic!("no {css} on the page: {e}")).text().await.unwrap()
}

/// Clicks `css`, a button that submits a form, and waits until the browser has left the
/// current page (its document went stale), so that what follows reads the next page.
async fn submit(browser: &Client, css: &str) {
    let old_page = browser.find(Locator::Css("html")).await.unwrap();
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while old_page.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "clicking {css} did not leave the page within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The words on the order page's action buttons, in order.
async fn buttons(browser: &Client) -> Vec<String> {
    let mut words = Vec::new();
    for button in browser.find_all(Locator::Css("#actions button")).await.unwrap() {
        words.push(button.text().await.unwrap());
    }
    words
}

/// Types `value` into the input `css` and leaves it there.
async fn type_into(browser: &Client, css: &str, value: &str) {
    let input = browser.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Chromium and chromedriver: `bash scripts/test` runs it where they are installed"]
async fn a_customer_adds_a_product_orders_it_and_pays_in_a_real_browser() {
    let chromium = find("FACTUM_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .expect("no Chromium: install it with `bash scripts/browser.sh install` (Debian's chromium)");
    let chromedriver = find("FACTUM_CHROMEDRIVER", &["/usr/bin/chromedriver"])
        .expect("no chromedriver: install it with `bash scripts/browser.sh install` (Debian's chromium-driver)");
    let dir = scratch_dir("browser");
    let shop = Running::sqlite(&dir).await;
    let driver = Driver::start(&chromedriver);
    let browser = browser(&driver, &chromium, &dir.join("profile")).await;

    // The catalog form: name, price, submit. A refusal shows the domain's message.
    browser.goto(&shop.url("/products")).await.unwrap();
    type_into(&browser, "#name", "Darjeeling tea").await;
    type_into(&browser, "#price", "-2").await;
    submit(&browser, "#add-product button").await;
    assert_eq!(text_of(&browser, ".error").await, "a price cannot be negative: -2.00 was given");
    type_into(&browser, "#price", "7.25").await;
    submit(&browser, "#add-product button").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/products");
    let catalog = text_of(&browser, "#catalog").await;
    assert!(catalog.contains("Darjeeling tea") && catalog.contains("7.25"), "{catalog}");
    type_into(&browser, "#name", "Cast-iron teapot").await;
    type_into(&browser, "#price", "34.90").await;
    submit(&browser, "#add-product button").await;
    assert!(text_of(&browser, "#catalog").await.contains("Cast-iron teapot"));

    // Place an order: two of the tea and one teapot.
    browser.goto(&shop.url("/orders")).await.unwrap();
    let quantity = |name: &str| format!("//tr[td/label[normalize-space()='{name}']]//input");
    let tea = quantity("Darjeeling tea");
    browser.find(Locator::XPath(&tea)).await.unwrap().send_keys("2").await.unwrap();
    let pot = quantity("Cast-iron teapot");
    browser.find(Locator::XPath(&pot)).await.unwrap().send_keys("1").await.unwrap();
    type_into(&browser, "#customer", "c-1815").await;
    type_into(&browser, "#customer-name", "Ada Lovelace").await;
    type_into(&browser, "#address", "12 St James's Square\nLondon SW1").await;
    submit(&browser, "#place-order button").await;

    // The status page, right after the redirect: placed, then paid.
    let order_page = browser.current_url().await.unwrap();
    assert!(order_page.path().starts_with("/orders/o-"), "{order_page}");
    assert_eq!(text_of(&browser, "#status").await, "placed");
    assert_eq!(text_of(&browser, "#total").await, "49.40");
    assert_eq!(text_of(&browser, "#customer-name").await, "Ada Lovelace");
    assert_eq!(buttons(&browser).await, ["Pay", "Cancel"], "a placed order cannot ship yet");
    submit(&browser, "#pay").await;
    assert_eq!(text_of(&browser, "#status").await, "paid");
    assert_eq!(buttons(&browser).await, ["Ship", "Cancel"]);
    let history = text_of(&browser, "#history").await;
    assert!(history.contains("placed: 3 item(s), 49.40 in all") && history.contains("paid 49.40"), "{history}");

    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../shop-screenshot.png");
    std::fs::write(&target, &png).unwrap();
    eprintln!("screenshot: {}", target.display());
    if std::env::var_os("FACTUM_BLESS").is_some() {
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshot.png"), &png).unwrap();
    }
    browser.close().await.unwrap();
}
