//! The shop over HTTP on 127.0.0.1: every route, the happy paths and the bad input.

mod common;

use std::path::PathBuf;

use common::{Running, product_id, scratch_dir};
use factum::{EventStore, Metadata, NewEvent, SqliteStore, StreamRef};

/// Adds a product through the HTML form and returns its id.
async fn add_product(shop: &Running, name: &str, price: &str) -> String {
    let added = shop.post_form("/products", &[("name", name), ("price", price)]).await;
    assert_eq!((added.status, added.location.as_deref()), (303, Some("/products")), "{}", added.body);
    product_id(shop, name).await
}

/// A customer as the order form takes them: id, name, address.
type Customer<'a> = (&'a str, &'a str, &'a str);

/// The customer of the orders whose customer does not matter to the test.
const GRACE: Customer = ("c-1906", "Grace Hopper", "1 Navy Yard\nArlington");

/// The customer fields of the order form.
fn customer_fields((id, name, address): Customer<'_>) -> [(&str, &str); 3] {
    [("customer", id), ("name", name), ("address", address)]
}

/// Places an order through the HTML form and returns its id.
async fn place_order(shop: &Running, lines: &[(&str, &str)]) -> String {
    place_order_for(shop, GRACE, lines).await
}

/// Places an order for `customer` through the HTML form and returns its id.
async fn place_order_for(shop: &Running, customer: Customer<'_>, lines: &[(&str, &str)]) -> String {
    let fields: Vec<(String, &str)> = lines.iter().map(|(id, qty)| (format!("qty-{id}"), *qty)).collect();
    let mut fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    fields.extend(customer_fields(customer));
    let placed = shop.post_form("/orders", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let location = placed.location.unwrap();
    location.strip_prefix("/orders/").expect("redirected to the order's page").to_owned()
}

#[tokio::test]
async fn the_catalog_page_shows_a_product_right_after_the_form_adds_it() {
    let dir = scratch_dir("catalog");
    let shop = Running::sqlite(&dir).await;

    let home = shop.get("/").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/products")));
    let empty = shop.get("/products").await;
    assert_eq!(empty.status, 200);
    assert!(empty.content_type.starts_with("text/html"));
    assert!(empty.body.contains("The catalog is empty"));

    add_product(&shop, "Green tea", "4.5").await;
    let page = shop.get("/products").await;
    assert!(page.body.contains("<td>Green tea</td>"), "{}", page.body);
    assert!(page.body.contains("4.50"));
}

#[tokio::test]
async fn a_refused_form_shows_the_domain_message_with_a_4xx_and_keeps_what_was_typed() {
    let dir = scratch_dir("refused");
    let shop = Running::sqlite(&dir).await;

    let negative = shop.post_form("/products", &[("name", "Coffee"), ("price", "-3")]).await;
    assert_eq!(negative.status, 422);
    assert!(negative.body.contains("a price cannot be negative: -3.00 was given"), "{}", negative.body);
    assert!(negative.body.contains(r#"value="Coffee""#), "the name typed is kept");

    let not_a_number = shop.post_form("/products", &[("name", "Coffee"), ("price", "three")]).await;
    assert_eq!(not_a_number.status, 422);
    assert!(
        not_a_number.body.contains("the price &#34;three&#34; is not an amount like 12.50"),
        "{}",
        not_a_number.body
    );

    let nameless = shop.post_form("/products", &[("name", "  "), ("price", "1")]).await;
    assert_eq!(nameless.status, 422);
    assert!(nameless.body.contains("a product needs a name"));

    let missing_fields = shop.post_form("/products", &[]).await;
    assert_eq!(missing_fields.status, 422);

    assert!(shop.get("/products").await.body.contains("The catalog is empty"), "nothing was recorded");
}

#[tokio::test]
async fn what_users_type_is_escaped() {
    let dir = scratch_dir("escape");
    let shop = Running::sqlite(&dir).await;
    add_product(&shop, "<script>alert('x')</script> & co", "1").await;
    let page = shop.get("/products").await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(page.body.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; co"), "{}", page.body);
}

#[tokio::test]
async fn prices_change_and_products_retire_through_their_forms() {
    let dir = scratch_dir("price");
    let shop = Running::sqlite(&dir).await;
    let id = add_product(&shop, "Kettle", "20.00").await;

    let changed = shop.post_form(&format!("/products/{id}/price"), &[("price", "24.99")]).await;
    assert_eq!((changed.status, changed.location.as_deref()), (303, Some("/products")));
    assert!(shop.get("/products").await.body.contains("24.99"));

    let negative = shop.post_form(&format!("/products/{id}/price"), &[("price", "-1")]).await;
    assert_eq!(negative.status, 422);
    assert!(negative.body.contains("a price cannot be negative"));

    let retired = shop.post_form(&format!("/products/{id}/retire"), &[]).await;
    assert_eq!(retired.status, 303);
    assert!(shop.get("/products").await.body.contains("retired"));
    let again = shop.post_form(&format!("/products/{id}/retire"), &[]).await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("the product is retired and can no longer change"));

    let unknown = shop.post_form("/products/p-nothing/retire", &[]).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("there is no such product in the catalog"));
}

#[tokio::test]
async fn an_order_is_placed_paid_and_shipped_and_its_page_tells_its_story() {
    let dir = scratch_dir("order");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let pot = add_product(&shop, "Teapot", "30").await;

    let order = place_order(&shop, &[(&tea, "2"), (&pot, "1")]).await;
    let page = shop.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="status">placed<"#), "{}", page.body);
    assert!(page.body.contains(r#"<strong id="total">39.00</strong>"#));
    assert!(page.body.contains("placed: 3 item(s), 39.00 in all"));
    assert!(page.body.contains(r#"<span id="customer-name">Grace Hopper</span>"#), "{}", page.body);
    assert!(page.body.contains(r#"<span id="customer-id">c-1906</span>"#), "{}", page.body);
    assert!(
        page.body.contains(
            r#"id="address">1 Navy Yard
Arlington</p>"#
        ),
        "{}",
        page.body
    );
    let list = shop.get("/orders").await.body;
    assert!(list.contains(&format!(r#"<a href="/orders/{order}">"#)), "{list}");
    assert!(list.contains("<td>c-1906</td>") && !list.contains("Grace Hopper"), "the list shows no name: {list}");

    let early = shop.post_form(&format!("/orders/{order}/ship"), &[]).await;
    assert_eq!(early.status, 422);
    assert!(early.body.contains("the order cannot ship before it is paid"), "{}", early.body);

    for (action, status) in [("pay", "paid"), ("ship", "shipped")] {
        let done = shop.post_form(&format!("/orders/{order}/{action}"), &[]).await;
        assert_eq!(done.location, Some(format!("/orders/{order}")), "{action}: {}", done.body);
        let page = shop.get(&format!("/orders/{order}")).await;
        assert!(page.body.contains(&format!(r#"id="status">{status}<"#)), "after {action}: {}", page.body);
    }
    let page = shop.get(&format!("/orders/{order}")).await;
    assert!(page.body.contains("paid 39.00") && page.body.contains("— shipped"), "{}", page.body);

    let late = shop.post_form(&format!("/orders/{order}/cancel"), &[]).await;
    assert_eq!(late.status, 422);
    assert!(late.body.contains("the order has already shipped"));
}

/// The actions the order's page offers: the last part of each form's action under the order
/// (but `forget`, which is about the customer, offered whatever the order's state).
async fn actions_offered(shop: &Running, order: &str) -> Vec<String> {
    let page = shop.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let under_the_order = format!("/orders/{order}/");
    let actions = page.body.split("<form ").skip(1).filter_map(|form| {
        let action = form.split("action=\"").nth(1)?.split('"').next()?;
        action.strip_prefix(&under_the_order).map(str::to_owned)
    });
    let actions: Vec<String> = actions.filter(|action| action != "forget").collect();
    for action in &actions {
        assert!(page.body.contains(&format!(r#"id="{action}""#)), "no button for {action}: {}", page.body);
    }
    actions
}

#[tokio::test]
async fn the_order_page_offers_only_the_actions_its_state_allows() {
    let dir = scratch_dir("actions");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let act = async |order: &str, action: &str| {
        let done = shop.post_form(&format!("/orders/{order}/{action}"), &[]).await;
        assert_eq!(done.status, 303, "{action}: {}", done.body);
    };

    let shipped = place_order(&shop, &[(&tea, "1")]).await;
    assert_eq!(actions_offered(&shop, &shipped).await, ["pay", "cancel"], "placed");
    act(&shipped, "pay").await;
    assert_eq!(actions_offered(&shop, &shipped).await, ["ship", "cancel"], "paid");
    act(&shipped, "ship").await;
    assert!(actions_offered(&shop, &shipped).await.is_empty(), "shipped");

    let cancelled_unpaid = place_order(&shop, &[(&tea, "1")]).await;
    act(&cancelled_unpaid, "cancel").await;
    assert!(actions_offered(&shop, &cancelled_unpaid).await.is_empty(), "cancelled before payment");
    let cancelled_paid = place_order(&shop, &[(&tea, "1")]).await;
    act(&cancelled_paid, "pay").await;
    act(&cancelled_paid, "cancel").await;
    assert!(actions_offered(&shop, &cancelled_paid).await.is_empty(), "cancelled after payment");
}

#[tokio::test]
async fn a_cancelled_order_takes_no_payment() {
    let dir = scratch_dir("cancel");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let order = place_order(&shop, &[(&tea, "1")]).await;
    assert_eq!(shop.post_form(&format!("/orders/{order}/cancel"), &[]).await.status, 303);
    let pay = shop.post_form(&format!("/orders/{order}/pay"), &[]).await;
    assert_eq!(pay.status, 422);
    assert!(pay.body.contains("the order is cancelled"));
    assert!(shop.get("/orders").await.body.contains(r#"<span class="status cancelled">cancelled</span>"#));
}

#[tokio::test]
async fn orders_of_unknown_retired_or_no_products_are_refused_on_the_form() {
    let dir = scratch_dir("bad-orders");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let old = add_product(&shop, "Old tea", "1").await;
    assert_eq!(shop.post_form(&format!("/products/{old}/retire"), &[]).await.status, 303);

    let tea = format!("qty-{tea}").leak() as &str;
    let cases = [
        (vec![("qty-p-ghost", "1")], "there is no product &#34;p-ghost&#34; in the catalog"),
        (vec![(format!("qty-{old}").leak() as &str, "1")], "Old tea is no longer sold"),
        (vec![], "an order needs at least one line"),
        (vec![(tea, "")], "an order needs at least one line"),
        (vec![(tea, "0")], "must be between 1 and 1000; 0 was asked"),
        (vec![(tea, "two")], "the quantity &#34;two&#34;"),
    ];
    for (mut fields, message) in cases {
        fields.extend(customer_fields(GRACE));
        let refused = shop.post_form("/orders", &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}");
        assert!(refused.body.contains(message), "{fields:?}: expected {message:?} in {}", refused.body);
    }
    assert!(shop.get("/orders").await.body.contains("No orders yet."));
}

#[tokio::test]
async fn orders_without_a_proper_customer_are_refused_and_the_form_keeps_what_was_typed() {
    let dir = scratch_dir("bad-customers");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let tea = format!("qty-{tea}");
    let long_name = "n".repeat(201);
    let cases = [
        (("", "Ada Lovelace", "London"), "a customer id is 1 to 40 letters, digits"),
        (("ada@example.com", "Ada Lovelace", "London"), "(not an e-mail address); &#34;ada@example.com&#34; is not"),
        (("c 1", "Ada Lovelace", "London"), "&#34;c 1&#34; is not"),
        (("c-1", "  ", "London"), "an order needs the customer&#39;s name"),
        (("c-1", &long_name, "London"), "a customer name has at most 200 characters; this one has 201"),
        (("c-1", "Ada Lovelace", " \n "), "an order needs the address to deliver to"),
    ];
    for (customer, message) in cases {
        let mut fields = vec![(tea.as_str(), "1")];
        fields.extend(customer_fields(customer));
        let refused = shop.post_form("/orders", &fields).await;
        assert_eq!(refused.status, 422, "{customer:?}");
        assert!(refused.body.contains(message), "{customer:?}: expected {message:?} in {}", refused.body);
    }
    let refused =
        shop.post_form("/orders", &[(tea.as_str(), "1"), ("name", "Ada Lovelace"), ("address", "London")]).await;
    assert_eq!(refused.status, 422, "no customer field at all");
    assert!(refused.body.contains(r#"name="name" value="Ada Lovelace""#), "what was typed is kept: {}", refused.body);
    assert!(refused.body.contains(">London</textarea>"), "{}", refused.body);
    assert!(shop.get("/orders").await.body.contains("No orders yet."));
}

#[tokio::test]
async fn unknown_pages_orders_and_actions_are_404() {
    let dir = scratch_dir("404");
    let shop = Running::sqlite(&dir).await;
    for path in ["/nothing-here", "/orders/o-ghost"] {
        let missing = shop.get(path).await;
        assert_eq!(missing.status, 404, "{path}");
        assert!(missing.body.contains("Not Found"), "{}", missing.body);
    }
    assert_eq!(shop.post_form("/orders/o-ghost/fly", &[]).await.status, 404);
    let unplaced = shop.post_form("/orders/o-ghost/pay", &[]).await;
    assert_eq!(unplaced.status, 422);
    assert!(unplaced.body.contains("there is no such order"));
    let unplaced = shop.post_form("/orders/o-ghost/forget", &[]).await;
    assert_eq!(unplaced.status, 422);
    assert!(unplaced.body.contains("there is no such order"), "{}", unplaced.body);
}

#[tokio::test]
async fn the_json_api_takes_the_generated_commands_and_answers_the_generated_queries() {
    let dir = scratch_dir("api");
    let shop = Running::sqlite(&dir).await;

    let added = shop.post_json("/api/products/p-tea", r#"{"AddToCatalog": {"name": "Tea", "price": 450}}"#).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.content_type.starts_with("application/json"));
    let added = added.json();
    assert_eq!(added["stream"], "product/p-tea");
    assert_eq!(added["version"], 1);
    assert_eq!(added["events"][0]["name"], "ProductAdded");
    assert_eq!(added["events"][0]["data"], serde_json::json!({"name": "Tea", "price": 450}));

    let product = shop.post_json("/api/queries/catalog", r#"{"Product": {"id": "p-tea"}}"#).await.json();
    assert_eq!(product, serde_json::json!({"Product": {"id": "p-tea", "name": "Tea", "price": 450, "retired": false}}));

    let order = r#"{"Place": {"customer_id": "c-7", "name": "Ada Lovelace", "address": "London",
        "lines": [{"product": "p-tea", "quantity": 3}]}}"#;
    let placed = shop.post_json("/api/orders/o-1", order).await.json();
    assert_eq!(placed["events"][0]["data"]["total"], 1350);
    assert_eq!(placed["events"][0]["data"]["customer_id"], "c-7");
    assert_eq!(shop.post_json("/api/orders/o-1", r#""Pay""#).await.json()["events"][0]["name"], "OrderPaid");

    let list = shop.post_json("/api/queries/order-list", r#"{"Recent": {"limit": 10}}"#).await.json();
    assert_eq!(list["Recent"][0]["id"], "o-1");
    assert_eq!(list["Recent"][0]["status"], "paid");
    let detail = shop.post_json("/api/queries/order-details", r#"{"Order": {"id": "o-1"}}"#).await.json();
    assert_eq!(detail["Order"]["history"].as_array().unwrap().len(), 2);
    assert_eq!(
        detail["Order"]["customer"],
        serde_json::json!({"id": "c-7", "name": {"$pii": "Ada Lovelace"}, "address": {"$pii": "London"}})
    );
    assert_eq!(
        shop.post_json("/api/queries/order-details", r#"{"Order": {"id": "o-2"}}"#).await.json()["Order"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn the_json_api_answers_bad_input_with_a_4xx_and_a_message() {
    let dir = scratch_dir("api-bad");
    let shop = Running::sqlite(&dir).await;
    let error = |answer: &common::Answer| answer.json()["error"].as_str().unwrap().to_owned();

    let negative = shop.post_json("/api/products/p-1", r#"{"AddToCatalog": {"name": "Tea", "price": -1}}"#).await;
    assert_eq!(negative.status, 422);
    assert_eq!(error(&negative), "a price cannot be negative: -0.01 was given");

    let ghost = r#"{"Place": {"customer_id": "c-7", "name": "Ada", "address": "London",
        "lines": [{"product": "p-ghost", "quantity": 1}]}}"#;
    let unknown = shop.post_json("/api/orders/o-1", ghost).await;
    assert_eq!(unknown.status, 422);
    assert_eq!(error(&unknown), r#"there is no product "p-ghost" in the catalog"#);

    let malformed = shop.post_json("/api/products/p-1", r#"{"AddToCatalog": {"name": "Tea", "#).await;
    assert_eq!(malformed.status, 400);
    assert!(error(&malformed).contains("Failed to parse the request body as JSON"), "{}", malformed.body);

    let unknown_command = shop.post_json("/api/products/p-1", r#"{"Steal": {}}"#).await;
    assert_eq!(unknown_command.status, 422);
    assert!(error(&unknown_command).contains("unknown variant `Steal`"), "{}", unknown_command.body);

    let wrong_type =
        shop.post_json("/api/products/p-1", r#"{"AddToCatalog": {"name": "Tea", "price": "cheap"}}"#).await;
    assert_eq!(wrong_type.status, 422);
    assert!(error(&wrong_type).contains("price"), "the field is named: {}", wrong_type.body);

    let anonymous =
        shop.post_json("/api/orders/o-1", r#"{"Place": {"lines": [{"product": "p-1", "quantity": 1}]}}"#).await;
    assert_eq!(anonymous.status, 422);
    assert!(error(&anonymous).contains("missing field `customer_id`"), "{}", anonymous.body);

    let not_json = shop.post_raw("/api/products/p-1", "text/plain", b"Retire".to_vec()).await;
    assert_eq!(not_json.status, 415);

    let oversized = format!(r#"{{"AddToCatalog": {{"name": "{}", "price": 1}}}}"#, "x".repeat(64 * 1024));
    let too_big = shop.post_json("/api/products/p-1", &oversized).await;
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    let too_big_form = shop.post_form("/products", &[("name", &"x".repeat(64 * 1024)), ("price", "1")]).await;
    assert_eq!(too_big_form.status, 413);

    let bad_id = shop.post_json(&format!("/api/products/{}", "p".repeat(300)), r#""Retire""#).await;
    assert_eq!(bad_id.status, 400, "{}", bad_id.body);
    assert!(error(&bad_id).contains("stream id"), "{}", bad_id.body);

    let catalog = shop.post_json("/api/queries/catalog", r#""Products""#).await.json();
    assert_eq!(catalog, serde_json::json!({"Products": []}), "nothing bad was recorded");
}

/// A failure of ours, here the store's backend refusing every write, is a 500 whose details
/// go to the log and not to the page nor to the API's answer.
#[tokio::test]
async fn a_backend_failure_is_a_500_that_shows_no_detail() {
    let dir = scratch_dir("backend");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let db = rusqlite::Connection::open(dir.join("shop.db")).unwrap();
    db.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;")
        .unwrap();

    for failed in [
        shop.post_form("/products", &[("name", "Coffee"), ("price", "3")]).await,
        shop.post_form(&format!("/products/{tea}/retire"), &[]).await,
        shop.post_form("/orders", &[&[(format!("qty-{tea}").as_str(), "1")][..], &customer_fields(GRACE)].concat())
            .await,
    ] {
        assert_eq!(failed.status, 500, "{}", failed.body);
        assert!(failed.content_type.starts_with("text/html"));
        assert!(failed.body.contains(factum_shop::controllers::OUR_FAILURE), "{}", failed.body);
        assert!(!failed.body.contains("disk on fire"), "{}", failed.body);
    }
    let api = shop.post_json(&format!("/api/products/{tea}"), r#""Retire""#).await;
    assert_eq!(api.status, 500);
    assert_eq!(api.json(), serde_json::json!({ "error": factum_shop::controllers::OUR_FAILURE }));
}

#[tokio::test]
async fn the_shop_finds_its_products_and_orders_again_after_a_restart() {
    let dir = scratch_dir("restart");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let order = place_order(&shop, &[(&tea, "1")]).await;
    shop.stop().await;

    let again = Running::sqlite(&dir).await;
    assert!(again.get("/products").await.body.contains("<td>Tea</td>"));
    assert!(again.get(&format!("/orders/{order}")).await.body.contains(r#"id="status">placed<"#));
    assert_eq!(again.post_form(&format!("/orders/{order}/pay"), &[]).await.status, 303);
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_when_its_payment_window_closes_also_across_a_restart() {
    let dir = scratch_dir("payment-window");
    let open = || async { SqliteStore::open(dir.join("shop.db")).await.unwrap() };
    let window = std::time::Duration::from_secs(1);
    let shop = Running::start_with_payment_window(open().await, window).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let unpaid = place_order(&shop, &[(&tea, "1")]).await;
    let paid = place_order(&shop, &[(&tea, "1")]).await;
    assert_eq!(shop.post_form(&format!("/orders/{paid}/pay"), &[]).await.status, 303);
    eventually_shows(&shop, &format!("/orders/{unpaid}"), "cancelled: not paid in time").await;
    let page = shop.get(&format!("/orders/{unpaid}")).await.body;
    assert!(page.contains(r#"id="status">cancelled<"#), "{page}");
    let page = shop.get(&format!("/orders/{paid}")).await.body;
    assert!(page.contains(r#"id="status">paid<"#) && !page.contains("not paid in time"), "{page}");

    // An order placed just before the shop stops keeps its window: the next shop, with
    // the default window of 15 minutes, cancels it when its own 1 second is up.
    let late = place_order(&shop, &[(&tea, "2")]).await;
    shop.stop().await;
    let again = Running::start(open().await).await;
    eventually_shows(&again, &format!("/orders/{late}"), "cancelled: not paid in time").await;
    let orders = again.get("/orders").await.body;
    assert!(orders.contains("cancelled"), "{orders}");
}

/// Waits until `path` of `shop` shows `text`: another process's write arrives through the
/// store, not through this process.
async fn eventually_shows(shop: &Running, path: &str, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !shop.get(path).await.body.contains(text) {
        assert!(std::time::Instant::now() < deadline, "{path} never showed {text:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Two shops on one store, as two processes would be: each sees what the other writes, and
/// an order placed on one can be paid on the other.
async fn two_shops_share_one_store(first: Running, second: Running, name: &str) {
    let tea = add_product(&first, name, "4.50").await;
    eventually_shows(&second, "/orders", name).await;
    let order = place_order(&second, &[(&tea, "2")]).await;
    eventually_shows(&first, &format!("/orders/{order}"), r#"id="status">placed<"#).await;
    assert_eq!(first.post_form(&format!("/orders/{order}/pay"), &[]).await.status, 303);
    eventually_shows(&second, &format!("/orders/{order}"), "paid 9.00").await;
}

#[tokio::test]
async fn two_shops_on_one_sqlite_file_see_each_others_writes() {
    let dir = scratch_dir("two-shops");
    let (first, second) = (Running::sqlite(&dir).await, Running::sqlite(&dir).await);
    two_shops_share_one_store(first, second, "Tea").await;
}

/// The same app on PostgreSQL, two instances on one database: `cargo test -p factum-shop --features postgres` with
/// FACTUM_POSTGRES_URL set (the README's test command does both).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn two_shops_on_one_postgresql_database_see_each_others_writes() {
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        eprintln!("SKIPPED: FACTUM_POSTGRES_URL is not set");
        return;
    };
    let connect = || async { Running::start(factum::PostgresStore::connect(&url).await.unwrap()).await };
    let name = format!("Tea {}", factum_shop::shop::new_id("t"));
    two_shops_share_one_store(connect().await, connect().await, &name).await;
}

/// Appends to `stream` of `store`, behind the shop's back, an event under a name the read
/// models subscribe to whose payload does not decode; returns its position.
async fn plant_bad_event<S: EventStore>(store: &S, aggregate_type: &str, id: &str, name: &'static str) -> u64 {
    let bad = NewEvent { name, version: 1, payload: r#"{"nonsense":true}"#.to_owned() };
    let stream = StreamRef::new(aggregate_type, id);
    let appended = store.append(stream, 0, &Metadata::default(), vec![bad]).await.unwrap();
    appended.positions[0]
}

/// `GET /health`: its status code and JSON.
async fn health(shop: &Running) -> (u16, serde_json::Value) {
    let answer = health_answer(shop).await;
    (answer.status, answer.json())
}

async fn health_answer(shop: &Running) -> common::Answer {
    let answer = shop.get("/health").await;
    assert!(answer.content_type.starts_with("application/json"), "{}", answer.content_type);
    answer
}

/// Each read model's status in `/health`, by name.
fn statuses(health: &serde_json::Value) -> Vec<(String, String)> {
    let read_models = health["read_models"].as_array().expect("read_models is a list");
    read_models
        .iter()
        .map(|r| (r["name"].as_str().unwrap().into(), r["status"]["status"].as_str().unwrap().into()))
        .collect()
}

/// The read models behind the pages, all running.
fn all_caught_up() -> Vec<(String, String)> {
    ["catalog", "order-list", "order-details"].map(|name| (name.to_owned(), "caught_up".to_owned())).to_vec()
}

/// Asks `/health` until its read models are as `expected` (the runners follow the store in
/// the background), for at most 30 s; returns the status, the JSON and the body as sent.
async fn health_once(shop: &Running, expected: &[(&str, &str)]) -> (u16, serde_json::Value, String) {
    let expected: Vec<(String, String)> = expected.iter().map(|(n, s)| ((*n).to_owned(), (*s).to_owned())).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = health_answer(shop).await;
        let json = answer.json();
        if statuses(&json) == expected {
            return (answer.status, json, answer.body);
        }
        assert!(std::time::Instant::now() < deadline, "/health never showed {expected:?}; last: {json}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The report of the read model `name` in `/health`.
fn read_model<'a>(health: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let read_models = health["read_models"].as_array().unwrap();
    read_models.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no {name} in {health}"))
}

fn has_banner(page: &common::Answer) -> bool {
    page.body.contains(r#"class="stale""#)
}

/// A bad event in a running shop stops the read models that subscribe to it, and only them:
/// `/health` says so with a 503, their pages show what they had under a banner, the other
/// pages and every command keep working.
#[tokio::test]
async fn a_read_model_stopped_by_a_bad_event_is_reported_and_its_pages_say_they_are_out_of_date() {
    let dir = scratch_dir("health-running");
    let store = SqliteStore::open(dir.join("shop.db")).await.unwrap();
    let shop = Running::start(store.clone()).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let order = place_order(&shop, &[(&tea, "2")]).await;
    let order_path = format!("/orders/{order}");

    let (status, before, _) =
        health_once(&shop, &[("catalog", "caught_up"), ("order-list", "caught_up"), ("order-details", "caught_up")])
            .await;
    assert_eq!((status, &before["status"]), (200, &serde_json::json!("ok")), "{before}");
    assert_eq!(statuses(&before), all_caught_up());
    for path in ["/products", "/orders", &order_path] {
        assert!(!has_banner(&shop.get(path).await), "{path} has a banner while every read model runs");
    }

    // OrderPlaced is taken in by the order list and the order details, not by the catalog.
    let position = plant_bad_event(&store, "order", "o-planted", "OrderPlaced").await;
    let (status, after, body) =
        health_once(&shop, &[("catalog", "caught_up"), ("order-list", "stopped"), ("order-details", "stopped")]).await;
    println!("GET /health with a bad event planted ({status}):\n{body}");
    std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../shop-health.json"), &body).unwrap();
    assert_eq!((status, &after["status"]), (503, &serde_json::json!("degraded")), "{after}");
    for name in ["order-list", "order-details"] {
        let stopped = &read_model(&after, name)["status"];
        assert_eq!(stopped["event"], "OrderPlaced", "{after}");
        assert_eq!(stopped["stream"], "order/o-planted", "{after}");
        assert_eq!(stopped["position"], position, "{after}");
        let error = stopped["error"].as_str().unwrap();
        assert!(error.contains(&format!("projection `{name}` stopped at position {position}")), "{error}");
        assert!(error.contains("missing field `lines`"), "the decoder's own words: {error}");
    }
    assert_eq!(read_model(&after, "catalog")["lag"], 0, "{after}");

    let where_ = format!("it stopped at event OrderPlaced of stream order/o-planted (position {position})");
    let list = shop.get("/orders").await;
    assert_eq!(list.status, 200);
    let list_banner = format!("The order list is out of date: {where_}. An operator has been alerted.");
    assert!(list.body.contains(&list_banner), "{}", list.body);
    assert!(list.body.contains(&format!(r#"<a href="/orders/{order}">"#)), "the stale list is still shown");
    let details_banner = format!("The order details are out of date: {where_}. An operator has been alerted.");
    let page = shop.get(&order_path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&details_banner), "{}", page.body);
    assert!(
        !list.body.contains("order details") && !page.body.contains("order list is"),
        "one banner per page's read model"
    );
    let products = shop.get("/products").await;
    assert!(products.body.contains("<td>Tea</td>") && !has_banner(&products), "{}", products.body);

    // Commands are still carried out: paying is recorded (the aggregate allows it) and the
    // user is sent on, not told it failed; the order's page says it lags.
    let paid = shop.post_form(&format!("{order_path}/pay"), &[]).await;
    assert_eq!((paid.status, paid.location.as_deref()), (303, Some(order_path.as_str())), "{}", paid.body);
    let page = shop.get(&order_path).await;
    assert!(page.body.contains(&details_banner) && page.body.contains(r#"id="status">placed<"#), "{}", page.body);
    let shipped = shop.post_json(&format!("/api/orders/{order}"), r#""Ship""#).await;
    assert_eq!(shipped.status, 202, "recorded, but not shown: {}", shipped.body);
    let expected =
        serde_json::json!({ "stream": format!("order/{order}"), "out_of_date": [list_banner, details_banner] });
    assert_eq!(shipped.json(), expected);
    assert_eq!(
        shop.post_json(&format!("/api/orders/{order}"), r#""Pay""#).await.status,
        422,
        "the aggregate saw the payment"
    );

    // The catalog still takes its commands in at once.
    add_product(&shop, "Coffee", "3").await;
    assert!(shop.get("/products").await.body.contains("<td>Coffee</td>"));
    let (status, ..) =
        health_once(&shop, &[("catalog", "caught_up"), ("order-list", "stopped"), ("order-details", "stopped")]).await;
    assert_eq!(status, 503);
}

/// A bad event already in the store when the shop opens does not keep it from starting. Once
/// the event is fixed in the store, the read model takes it in by itself.
#[tokio::test]
async fn the_shop_starts_on_a_store_holding_a_bad_event_and_recovers_once_it_is_fixed() {
    let dir = scratch_dir("health-start");
    let first = Running::sqlite(&dir).await;
    let tea = add_product(&first, "Tea", "4.50").await;
    let order = place_order(&first, &[(&tea, "1")]).await;
    first.stop().await;
    // A stream id as the API takes it, with markup in it: the banner shows it escaped.
    let store = SqliteStore::open(dir.join("shop.db")).await.unwrap();
    let position = plant_bad_event(&store, "product", "p-<i>bad</i>", "ProductAdded").await;

    let shop = Running::sqlite(&dir).await;
    let (status, health) = health(&shop).await;
    assert_eq!((status, &health["status"]), (503, &serde_json::json!("degraded")), "{health}");
    let expected = [("catalog", "stopped"), ("order-list", "caught_up"), ("order-details", "caught_up")];
    assert_eq!(statuses(&health), expected.map(|(n, s)| (n.to_owned(), s.to_owned())).to_vec());
    let catalog = &read_model(&health, "catalog")["status"];
    assert_eq!((&catalog["event"], &catalog["stream"]), (&"ProductAdded".into(), &"product/p-<i>bad</i>".into()));
    assert_eq!(catalog["position"], position);

    let banner = format!(
        "The catalog is out of date: it stopped at event ProductAdded of stream product/p-&#60;i&#62;bad&#60;/i&#62; (position {position}). An operator has been alerted."
    );
    for path in ["/products", "/orders"] {
        let page = shop.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(&banner), "{path}: {}", page.body);
        assert!(!page.body.contains("<i>bad"), "{path}: {}", page.body);
    }
    assert!(shop.get("/products").await.body.contains("<td>Tea</td>"), "what the catalog had is shown");
    assert!(!has_banner(&shop.get(&format!("/orders/{order}")).await), "the order's page does not use the catalog");

    let added = shop.post_form("/products", &[("name", "Coffee"), ("price", "3")]).await;
    assert_eq!((added.status, added.location.as_deref()), (303, Some("/products")), "done, though not shown yet");
    assert!(!shop.get("/products").await.body.contains("Coffee"));

    let db = rusqlite::Connection::open(dir.join("shop.db")).unwrap();
    let fixed = r#"{"name":"Fixed tea","price":100}"#;
    db.execute("UPDATE events SET payload = ?1 WHERE position = ?2", rusqlite::params![fixed, position as i64])
        .unwrap();
    let (status, ..) =
        health_once(&shop, &[("catalog", "caught_up"), ("order-list", "caught_up"), ("order-details", "caught_up")])
            .await;
    assert_eq!(status, 200);
    let page = shop.get("/products").await;
    assert!(page.body.contains("<td>Fixed tea</td>") && page.body.contains("<td>Coffee</td>"), "{}", page.body);
    assert!(!has_banner(&page), "{}", page.body);
}

const ADA: Customer = ("c-1815", "Ada Lovelace", "12 St James's Square\nLondon SW1");
const ALAN: Customer = ("c-1912", "Alan Turing", "Hollymeade, Wilmslow");

/// Whether `needle` occurs in `haystack`, byte for byte.
fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// The bytes of the shop's SQLite file and of its write-ahead log (when there is one), by name.
fn store_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["shop.db", "shop.db-wal"]
        .into_iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok().map(|bytes| (name.to_owned(), bytes)))
        .collect()
}

/// The forget button: the customer's name and address read "(forgotten)" on every order they
/// placed, the other customers' do not, and neither the SQLite file nor its WAL holds them.
#[tokio::test]
async fn forgetting_a_customer_erases_their_name_and_address_from_the_pages_and_the_files() {
    let dir = scratch_dir("forget");
    let shop = Running::sqlite(&dir).await;
    let tea = add_product(&shop, "Tea", "4.50").await;
    let first = place_order_for(&shop, ADA, &[(&tea, "2")]).await;
    let second = place_order_for(&shop, ADA, &[(&tea, "1")]).await;
    let alans = place_order_for(&shop, ALAN, &[(&tea, "3")]).await;
    let page = shop.get(&format!("/orders/{first}")).await.body;
    assert!(page.contains(r#"<span id="customer-name">Ada Lovelace</span>"#), "{page}");
    assert!(page.contains("12 St James&#39;s Square"), "{page}");
    assert!(page.contains(&format!(r#"action="/orders/{first}/forget""#)) && page.contains(r#"id="forget""#), "{page}");
    // Stopped cleanly, the shop writes its read models' checkpoints: the order details hold
    // the name in the clear there (the events hold it sealed).
    shop.stop().await;
    let files = store_files(&dir);
    assert!(
        files.iter().any(|(_, bytes)| holds(bytes, "Ada Lovelace")),
        "the order details' checkpoint holds the name before it is forgotten, so this test can see it go"
    );

    // Started again, the shop holds the name in memory (loaded from the checkpoint).
    let shop = Running::sqlite(&dir).await;
    assert!(shop.get(&format!("/orders/{second}")).await.body.contains("Ada Lovelace"));
    let forgot = shop.post_form(&format!("/orders/{first}/forget"), &[]).await;
    assert_eq!((forgot.status, forgot.location), (303, Some(format!("/orders/{first}"))), "{}", forgot.body);

    for order in [&first, &second] {
        let page = shop.get(&format!("/orders/{order}")).await;
        assert_eq!(page.status, 200);
        let page = page.body;
        assert!(page.contains(r#"<span id="customer-name">(forgotten)</span>"#), "{page}");
        assert!(page.contains(r#"id="address">(forgotten)</p>"#), "{page}");
        assert!(page.contains(r#"<span id="customer-id">c-1815</span>"#), "the customer id stays: {page}");
        assert!(!page.contains("Ada") && !page.contains("St James"), "{page}");
        assert!(
            page.contains(r#"id="forgotten""#) && !page.contains(r#"id="forget""#),
            "nothing left to forget: {page}"
        );
        assert!(page.contains(r#"<strong id="total">"#) && page.contains("placed: "), "the order itself stays: {page}");
    }
    let page = shop.get(&format!("/orders/{alans}")).await.body;
    assert!(page.contains(r#"<span id="customer-name">Alan Turing</span>"#), "another customer stays: {page}");
    let detail = shop.post_json("/api/queries/order-details", &format!(r#"{{"Order": {{"id": "{first}"}}}}"#)).await;
    let customer = &detail.json()["Order"]["customer"];
    assert_eq!(
        customer,
        &serde_json::json!({"id": "c-1815", "name": {"$forgotten": true}, "address": {"$forgotten": true}})
    );
    // The order goes on: it is paid and shipped without its customer's name.
    for action in ["pay", "ship"] {
        assert_eq!(shop.post_form(&format!("/orders/{second}/{action}"), &[]).await.status, 303, "{action}");
    }
    let again = shop.post_form(&format!("/orders/{second}/forget"), &[]).await;
    assert_eq!(again.status, 303, "forgetting again changes nothing: {}", again.body);
    // While the shop runs: the store emptied its WAL into the file after `forget`.
    assert_no_trace_of_ada(&dir, "while the shop runs");

    // Stopped again, the checkpoints written anew (from events whose values are forgotten).
    shop.stop().await;
    assert_no_trace_of_ada(&dir, "once the shop stopped");
}

/// Neither the database file nor its WAL holds Ada's name or address.
fn assert_no_trace_of_ada(dir: &std::path::Path, when: &str) {
    let files = store_files(dir);
    assert!(files.iter().any(|(file, _)| file == "shop.db"), "{when}: no shop.db");
    let sizes: Vec<String> = files.iter().map(|(file, bytes)| format!("{file} ({} bytes)", bytes.len())).collect();
    println!("{when}: checked {}", sizes.join(", "));
    for (file, bytes) in &files {
        for text in ["Ada Lovelace", "St James"] {
            assert!(!holds(bytes, text), "{when}: {file} still holds {text:?}");
        }
    }
}

/// An order placed before the shop asked for the customer (an `OrderPlaced` version 1) reads
/// with no customer on record: its page says so and offers nothing to forget.
#[tokio::test]
async fn an_order_placed_before_customers_were_asked_for_has_none_on_record() {
    let dir = scratch_dir("v1-order");
    let store = SqliteStore::open(dir.join("shop.db")).await.unwrap();
    let v1 = r#"{"lines":[{"product":"p-tea","name":"Tea","quantity":2,"unit_price":450}],"total":900}"#;
    let old = NewEvent { name: "OrderPlaced", version: 1, payload: v1.to_owned() };
    store.append(StreamRef::new("order", "o-old"), 0, &Metadata::default(), vec![old]).await.unwrap();
    let shop = Running::start(store).await;

    let page = shop.get("/orders/o-old").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"id="no-customer""#) && !page.body.contains(r#"id="forget""#), "{}", page.body);
    assert!(page.body.contains(r#"<strong id="total">9.00</strong>"#), "{}", page.body);
    let list = shop.get("/orders").await.body;
    assert!(list.contains(r#"<a href="/orders/o-old">"#) && list.contains(r#"<span class="muted">—</span>"#), "{list}");
    let refused = shop.post_form("/orders/o-old/forget", &[]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("this order has no customer on record"), "{}", refused.body);
    assert_eq!(shop.post_form("/orders/o-old/pay", &[]).await.status, 303, "the old order goes on");
}
