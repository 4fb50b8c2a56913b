//! The `factum` binary run as users run it, on a SQLite file and on a PostgreSQL schema
//! holding the same streams: the same answers from both, and errors that say what was wrong.
//!
//! The PostgreSQL half needs `FACTUM_POSTGRES_URL` (the README's test command starts a
//! throwaway server and sets it); without it, it says it skipped, and under `CI=true` fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use factum::{Checkpoint, EventStore, Metadata, NewEvent, PostgresStore, RunnerFailure, SqliteStore, StreamRef};
use serde_json::Value;

/// A store for one test, and the arguments that point the tool at it.
struct Target<S> {
    store: S,
    args: Vec<String>,
    _dir: Option<TempDir>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() % 1_000_000_000_000;
    format!("{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn sqlite() -> Target<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("factum-cli-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let store = SqliteStore::open(&path).await.unwrap();
    Target { store, args: vec!["--store".into(), path.display().to_string()], _dir: Some(TempDir(dir)) }
}

async fn postgres() -> Option<Target<PostgresStore>> {
    let url = match std::env::var("FACTUM_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("CI needs FACTUM_POSTGRES_URL for these tests"),
        _ => {
            eprintln!("SKIPPED: the PostgreSQL half needs FACTUM_POSTGRES_URL");
            return None;
        }
    };
    let schema = format!("cli_{}", unique());
    let store = PostgresStore::connect_with(&url, &schema, 2).await.unwrap();
    Some(Target { store, args: vec!["--store".into(), url, "--schema".into(), schema], _dir: None })
}

fn event(name: &'static str, version: u32, payload: Value) -> NewEvent {
    NewEvent { name, version, payload: payload.to_string() }
}

/// The same streams, appended in the same order, on any store: two orders (one of them
/// with an event at an older schema version) and an account, 7 events in all.
async fn fill(store: &impl EventStore) {
    let traced = Metadata { correlation_id: Some("checkout-7".into()), ..Metadata::new() };
    let plain = Metadata::new();
    let appends = [
        ("order", "o-1", 0, &traced, vec![event("OrderPlaced", 1, serde_json::json!({ "lines": 2 }))]),
        ("account", "a-1", 0, &plain, vec![event("AccountOpened", 1, serde_json::json!({ "owner": "Ada" }))]),
        ("order", "o-2", 0, &plain, vec![event("OrderPlaced", 2, serde_json::json!({ "lines": 1, "note": "gift" }))]),
        ("order", "o-1", 1, &traced, vec![event("OrderPaid", 1, serde_json::json!({ "amount": 40 }))]),
        (
            "account",
            "a-1",
            1,
            &plain,
            vec![
                event("MoneyDeposited", 1, serde_json::json!({ "amount": 100 })),
                event("MoneyDeposited", 1, serde_json::json!({ "amount": 5 })),
            ],
        ),
        ("order", "o-1", 2, &plain, vec![event("OrderShipped", 1, serde_json::json!({}))]),
    ];
    for (aggregate_type, id, expected, metadata, events) in appends {
        store.append(StreamRef::new(aggregate_type, id), expected, metadata, events).await.unwrap();
    }
}

/// Runs `factum` with the target's arguments and `args`.
fn factum<S>(target: &Target<S>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_factum"))
        .args(&target.args)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the factum binary runs")
}

/// Runs `factum`, which must succeed, and returns what it printed.
fn ok<S>(target: &Target<S>, args: &[&str]) -> String {
    let output = factum(target, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "factum {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `factum`, which must fail, and returns its error message.
fn fails<S>(target: &Target<S>, args: &[&str]) -> String {
    let output = factum(target, args);
    assert!(!output.status.success(), "factum {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr).unwrap()
}

fn json<S>(target: &Target<S>, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(target, &args)).unwrap()
}

/// `value` without the times, which differ from one store to the other.
fn timeless(mut value: Value) -> Value {
    match &mut value {
        Value::Object(fields) => {
            fields.retain(|key, _| !key.ends_with("_at"));
            for field in fields.values_mut() {
                *field = timeless(field.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = timeless(item.take());
            }
        }
        _ => {}
    }
    value
}

/// Every read command's JSON, times left out.
fn answers<S>(target: &Target<S>) -> Vec<Value> {
    let tail = ok(target, &["tail", "--after", "0", "--no-follow", "--json"]);
    let tail: Vec<Value> = tail.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    [
        json(target, &["streams"]),
        json(target, &["streams", "--type", "order", "--prefix", "o-", "--limit", "1"]),
        json(target, &["events", "order/o-1"]),
        json(target, &["events", "account/a-1", "--at", "2"]),
        json(target, &["stats"]),
        json(target, &["projections"]),
        Value::Array(tail),
    ]
    .into_iter()
    .map(timeless)
    .collect()
}

#[tokio::test]
async fn sqlite_and_postgresql_give_the_same_answers() {
    let lite = sqlite().await;
    fill(&lite.store).await;
    let checkpoint = || Checkpoint { position: 5, state: r#"{"seen":5}"#.into() };
    lite.store.save_checkpoint("totals", checkpoint()).await.unwrap();
    let answers_of_sqlite = answers(&lite);

    let streams = &answers_of_sqlite[0];
    assert_eq!(streams["total"], 3);
    let listed: Vec<String> = streams["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!("{}/{}@{}", s["aggregate_type"].as_str().unwrap(), s["stream_id"].as_str().unwrap(), s["version"])
        })
        .collect();
    assert_eq!(listed, ["account/a-1@3", "order/o-1@3", "order/o-2@1"]);
    assert_eq!(answers_of_sqlite[1]["total"], 2, "two orders match, one is shown: {}", answers_of_sqlite[1]);
    assert_eq!(answers_of_sqlite[1]["streams"].as_array().unwrap().len(), 1);
    let order = answers_of_sqlite[2].as_array().unwrap();
    assert_eq!(order.len(), 3);
    assert_eq!(order[1]["name"], "OrderPaid");
    assert_eq!(order[1]["position"], 4);
    assert_eq!(order[1]["payload"]["amount"], 40);
    assert_eq!(order[1]["metadata"]["correlation_id"], "checkout-7");
    assert_eq!(answers_of_sqlite[3].as_array().unwrap().len(), 2, "--at 2 stops at version 2");
    assert_eq!(answers_of_sqlite[6].as_array().unwrap().len(), 7, "the whole log");
    let totals = &answers_of_sqlite[5]["projections"][0];
    assert_eq!((&totals["name"], &totals["position"], &totals["lag"]), (&"totals".into(), &5.into(), &2.into()));

    let Some(pg) = postgres().await else { return };
    fill(&pg.store).await;
    pg.store.save_checkpoint("totals", checkpoint()).await.unwrap();
    let answers_of_postgres = answers(&pg);
    for (index, (a, b)) in answers_of_sqlite.iter().zip(&answers_of_postgres).enumerate() {
        assert_eq!(a, b, "answer {index} differs between SQLite and PostgreSQL");
    }
    // And the tables for people, but for the times.
    let without_times = |text: String| {
        text.split_whitespace()
            .filter(|word| !word.trim_start_matches('(').starts_with("20"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for args in [&["streams"][..], &["stats"], &["events", "order/o-1"]] {
        assert_eq!(without_times(ok(&lite, args)), without_times(ok(&pg, args)), "factum {args:?}");
    }
}

#[tokio::test]
async fn the_tables_for_people() {
    let target = sqlite().await;
    fill(&target.store).await;
    let streams = ok(&target, &["streams"]);
    let lines: Vec<&str> = streams.lines().collect();
    assert!(lines[0].starts_with("TYPE     STREAM  VERSION  FIRST  LAST  CREATED"), "{streams}");
    assert!(lines[1].starts_with("account  a-1           3      2     6  20"), "{streams}");
    assert_eq!(lines.last(), Some(&"3 streams"));
    assert!(ok(&target, &["streams", "--limit", "1"]).ends_with("1 of 3 streams shown: --limit shows more\n"));

    let events = ok(&target, &["events", "order/o-1", "--at", "2"]);
    assert!(
        events.starts_with("order/o-1: version 3, shown as at version 2\n\n#1 OrderPlaced v1  position 1  20"),
        "{events}"
    );
    assert!(events.contains("metadata: {\"correlation_id\":\"checkout-7\"}\n{\n  \"lines\": 2\n}\n"), "{events}");
    assert!(!events.contains("OrderShipped"), "{events}");

    let stats = ok(&target, &["stats"]);
    assert!(stats.contains("order    OrderPlaced          v1       1      1     1  20"), "{stats}");
    assert!(stats.contains("7 events\n"), "{stats}");
    assert!(
        stats.contains("older versions still stored (read through upcasters, which must stay):\n  OrderPlaced v1: 1 event, the newest at position 1"),
        "{stats}"
    );
    let stats = json(&target, &["stats"]);
    let superseded: Vec<&Value> = stats.as_array().unwrap().iter().filter(|row| row["superseded"] == true).collect();
    assert_eq!(superseded.len(), 1);
    assert_eq!(
        (&superseded[0]["name"], &superseded[0]["schema_version"]),
        (&Value::from("OrderPlaced"), &Value::from(1))
    );

    let tail = ok(&target, &["tail", "-n", "2", "--no-follow"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 2, "{tail}");
    assert!(
        lines[0].starts_with("       6  20") && lines[0].ends_with("account/a-1@3  MoneyDeposited v1  {\"amount\":5}"),
        "{tail}"
    );
    assert!(lines[1].ends_with("order/o-1@3  OrderShipped v1  {}"), "{tail}");
    let deposits = ok(&target, &["tail", "--after", "0", "--name", "MoneyDeposited", "--no-follow"]);
    assert_eq!(deposits.lines().count(), 2, "{deposits}");
}

#[tokio::test]
async fn bad_input_is_named() {
    let target = sqlite().await;
    fill(&target.store).await;
    let error = fails(&target, &["events", "order-1"]);
    assert!(
        error.contains("\"order-1\" is not a stream: give its aggregate type and id, as in bank-account/acc-1"),
        "{error}"
    );
    let error = fails(&target, &["events", "order/o-9"]);
    assert!(
        error.contains("there is no stream order/o-9 in the SQLite file")
            && error.contains("2 stream(s) of type order"),
        "{error}"
    );
    let error = fails(&target, &["events", "invoice/i-1"]);
    assert!(
        error.contains("there is no aggregate type \"invoice\"") && error.contains("its types are account, order"),
        "{error}"
    );
    let error = fails(&target, &["events", "order/o-1", "--at", "9"]);
    assert!(error.contains("--at 9 is not a version of order/o-1, which runs from 1 to 3"), "{error}");
    let error = fails(&target, &["events", "order/o-1", "--from", "3", "--at", "2"]);
    assert!(error.contains("--from 3 must be between 1 and 2"), "{error}");

    let dir = std::env::temp_dir().join(format!("factum-cli-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let _dir = TempDir(dir.clone());
    let at =
        |path: &Path| Target::<()> { store: (), args: vec!["--store".into(), path.display().to_string()], _dir: None };
    let error = fails(&at(&dir.join("missing.db")), &["streams"]);
    assert!(error.contains("there is no SQLite file at") && error.contains("missing.db"), "{error}");
    assert!(!dir.join("missing.db").exists(), "the tool never creates a store");
    std::fs::write(dir.join("notes.txt"), "not a database, but long enough to be read as one ......").unwrap();
    let error = fails(&at(&dir.join("notes.txt")), &["streams"]);
    assert!(error.contains("is not a SQLite file a factum store can be read from"), "{error}");
    rusqlite::Connection::open(dir.join("other.db")).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let error = fails(&at(&dir.join("other.db")), &["streams"]);
    assert!(error.contains("is not a factum store: it has no factum tables"), "{error}");
    let newer = dir.join("newer.db");
    drop(SqliteStore::open(&newer).await.unwrap());
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = fails(&at(&newer), &["streams"]);
    assert!(error.contains("was written by a newer factum (schema version 99; this tool reads up to 6)"), "{error}");
    let error = fails(&at(&newer), &["--schema", "x", "streams"]);
    assert!(error.contains("--schema names a PostgreSQL schema"), "{error}");
}

/// Projections: position, lag and lease holder; `reset` asks, refuses while a runner holds
/// the lease, and deletes the checkpoint.
async fn projections_and_reset<S: EventStore>(target: &Target<S>, holder: &str) {
    fill(&target.store).await;
    // A NATS publisher's checkpoint, and its lease, named alike.
    let publisher = Checkpoint { position: 7, state: "{}".into() };
    target.store.save_checkpoint("nats-publisher:shop", publisher).await.unwrap();
    let publishing = target.store.acquire_lease("nats-publisher:shop").await.unwrap();
    let report = json(target, &["projections"]);
    let row = &report["projections"][0];
    assert_eq!((&row["name"], &row["lag"]), (&"nats-publisher:shop".into(), &0.into()), "{report}");
    assert!(row["lease"]["holder"].as_str().unwrap().starts_with(holder), "{report}");
    drop(publishing);
    target.store.delete_checkpoint("nats-publisher:shop").await.unwrap();
    // A process manager's checkpoint (its state is in tables of its own), and its lease, named
    // alike.
    let step = factum::process::ProcessCommit { position: Some(6), ..Default::default() };
    target.store.commit_process("payment", step).await.unwrap();
    let running = target.store.acquire_lease("process:payment").await.unwrap();
    let report = json(target, &["projections"]);
    let row = &report["projections"][0];
    let listed = (&row["name"], &row["position"], &row["lag"], &row["state_bytes"]);
    assert_eq!(listed, (&"process:payment".into(), &6.into(), &1.into(), &0.into()), "{report}");
    assert!(row["lease"]["holder"].as_str().unwrap().starts_with(holder), "{report}");
    let table = ok(target, &["projections"]);
    let row = table.lines().find(|line| line.starts_with("process:payment")).unwrap_or_default();
    let words: Vec<&str> = row.split_whitespace().take(7).collect();
    assert_eq!(words, ["process:payment", "6", "1", "0", "B", "held", "by"], "{table}");
    drop(running);
    target.store.delete_checkpoint("process:payment").await.unwrap();
    let state = Checkpoint { position: 4, state: r#"{"orders":2}"#.into() };
    target.store.save_checkpoint("orders", state).await.unwrap();
    let lease = target.store.acquire_lease("projection:orders").await.unwrap();
    let report = json(target, &["projections"]);
    assert_eq!(report["head"], 7);
    let orders = &report["projections"][0];
    assert_eq!((&orders["name"], &orders["position"], &orders["lag"]), (&"orders".into(), &4.into(), &3.into()));
    assert_eq!(orders["state_bytes"], 12);
    let held_by = orders["lease"]["holder"].as_str().unwrap();
    assert!(held_by.starts_with(holder), "{held_by}");
    let table = ok(target, &["projections"]);
    let row = table.lines().find(|line| line.starts_with("orders")).unwrap_or_default();
    let words: Vec<&str> = row.split_whitespace().take(7).collect();
    assert_eq!(words, ["orders", "4", "3", "12", "B", "held", "by"], "{table}");

    assert!(orders["last_error"].is_null(), "{orders}");

    // A runner that stopped says why, until its checkpoint moves past that point.
    let error =
        "projection `orders` stopped at position 5 (stream order/o-1, version 3, event `OrderShipped`): no such order";
    let failure = RunnerFailure { position: 4, error: error.into(), failed_at: SystemTime::now() };
    target.store.record_failure("orders", failure.clone()).await.unwrap();
    let last_error = &json(target, &["projections"])["projections"][0]["last_error"];
    assert_eq!((&last_error["position"], &last_error["error"]), (&4.into(), &error.into()), "{last_error}");
    let table = ok(target, &["projections"]);
    assert!(
        table.contains("\norders stopped at position 4, 20") && table.contains(&format!(":\n  {error}\n")),
        "{table}"
    );
    target.store.record_failure("stuck", RunnerFailure { position: 0, ..failure.clone() }).await.unwrap();
    let stuck = &json(target, &["projections"])["projections"][1];
    let listed = (&stuck["name"], &stuck["position"], &stuck["lag"]);
    assert_eq!(listed, (&"stuck".into(), &Value::Null, &7.into()), "a runner that never saved is listed");
    target.store.save_checkpoint("orders", Checkpoint { position: 5, state: "{}".into() }).await.unwrap();
    assert!(json(target, &["projections"])["projections"][0]["last_error"].is_null(), "past the failure");
    target.store.save_checkpoint("orders", Checkpoint { position: 4, state: r#"{"orders":2}"#.into() }).await.unwrap();

    let error = fails(target, &["reset", "orders", "--yes"]);
    assert!(
        error.contains("projection \"orders\" is running: its lease is held by") && error.contains("Stop it first"),
        "{error}"
    );
    drop(lease);
    // The lease goes when its holder lets go (PostgreSQL: its connection closes).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while json(target, &["projections"])["projections"][0]["lease"].is_object() {
        assert!(std::time::Instant::now() < deadline, "the lease was not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = fails(target, &["reset", "orders"]);
    assert!(error.contains("needs confirmation and there is no terminal to ask on: pass --yes"), "{error}");
    let error = fails(target, &["reset", "order", "--yes"]);
    assert!(
        error.contains("there is no checkpoint of a projection \"order\"") && error.contains("those saved are orders"),
        "{error}"
    );
    let done = ok(target, &["reset", "orders", "--yes"]);
    assert_eq!(
        done,
        "reset \"orders\" (it was at position 4): it rebuilds from the start of the log on its next start\n"
    );
    assert!(target.store.load_checkpoint("orders").await.unwrap().is_none());
    assert!(target.store.load_failure("orders").await.unwrap().is_none(), "reset forgets the failure too");
    let report = json(target, &["projections"]);
    let names: Vec<&Value> = report["projections"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
    assert_eq!(names, ["stuck"]);
}

#[tokio::test]
async fn projections_and_reset_on_sqlite() {
    projections_and_reset(&sqlite().await, "pid").await;
}

#[tokio::test]
async fn projections_and_reset_on_postgresql() {
    if let Some(target) = postgres().await {
        projections_and_reset(&target, "server pid").await;
    }
}

/// `tail` prints the newest events, then each one appended after it started.
async fn tail_follows<S: EventStore>(target: &Target<S>) {
    fill(&target.store).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_factum"))
        .args(&target.args)
        .args(["tail", "-n", "1", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["position"], 7);
    let metadata = Metadata::new();
    let shipped = vec![event("OrderShipped", 1, serde_json::json!({}))];
    target.store.append(StreamRef::new("order", "o-2"), 1, &metadata, shipped).await.unwrap();
    let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!((&next["position"], &next["stream_id"], &next["version"]), (&8.into(), &"o-2".into(), &2.into()));
}

#[tokio::test]
async fn tail_follows_the_log_on_sqlite() {
    tail_follows(&sqlite().await).await;
}

#[tokio::test]
async fn tail_follows_the_log_on_postgresql() {
    if let Some(target) = postgres().await {
        tail_follows(&target).await;
    }
}

#[test]
fn postgresql_errors_are_named() {
    let target = Target::<()> {
        store: (),
        args: vec!["--store".into(), "postgres://nobody@127.0.0.1:1/none".into()],
        _dir: None,
    };
    let error = fails(&target, &["streams"]);
    assert!(error.starts_with("error: cannot connect to PostgreSQL"), "{error}");
}

#[tokio::test]
async fn a_postgresql_schema_without_factum_tables_is_named() {
    let Some(target) = postgres().await else { return };
    let mut args = target.args.clone();
    *args.last_mut().unwrap() = format!("none_{}", unique());
    let elsewhere = Target::<()> { store: (), args, _dir: None };
    let error = fails(&elsewhere, &["streams"]);
    assert!(error.contains("is not a factum store: it has no factum tables") && error.contains("--schema"), "{error}");
}

/// A lease its holder let expire (a process that died) shows as expired and does not stop
/// a reset.
#[tokio::test]
async fn an_expired_lease_is_shown_and_does_not_block_a_reset() {
    let target = sqlite().await;
    fill(&target.store).await;
    target.store.save_checkpoint("orders", Checkpoint { position: 3, state: "{}".into() }).await.unwrap();
    let path = &target.args[1];
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute("INSERT INTO leases (name, owner, expires_at) VALUES ('projection:orders', 'pid1-dead', 1000000)", [])
        .unwrap();
    let lease = &json(&target, &["projections"])["projections"][0]["lease"];
    assert_eq!((&lease["holder"], &lease["expired"]), (&"pid1-dead".into(), &true.into()), "{lease}");
    assert_eq!(lease["expires_at"], "1970-01-01T00:00:01.000Z");
    let table = ok(&target, &["projections"]);
    assert!(table.contains("expired 1970-01-01T00:00:01.000Z (last held by pid1-dead)"), "{table}");
    ok(&target, &["reset", "orders", "--yes"]);
    assert!(target.store.load_checkpoint("orders").await.unwrap().is_none());
}

/// An archived stream and a deleted one are marked as such, the same on both stores.
#[tokio::test]
async fn archived_and_deleted_streams_are_marked() {
    async fn states<S: EventStore>(target: &Target<S>) -> Vec<String> {
        fill(&target.store).await;
        target.store.archive(StreamRef::new("account", "a-1")).await.unwrap();
        target.store.delete(StreamRef::new("order", "o-2")).await.unwrap();
        let listing = json(target, &["streams"]);
        listing["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{}@{} {}", s["stream_id"].as_str().unwrap(), s["version"], s["state"].as_str().unwrap()))
            .collect()
    }
    let lite = sqlite().await;
    let expected = ["a-1@3 archived", "o-1@3 open", "o-2@2 deleted"];
    assert_eq!(states(&lite).await, expected);
    let table = ok(&lite, &["streams"]);
    assert!(table.lines().next().unwrap().ends_with("UPDATED                   STATE"), "{table}");
    assert!(table.lines().nth(1).unwrap().ends_with("  archived"), "{table}");
    let Some(pg) = postgres().await else { return };
    assert_eq!(states(&pg).await, expected);
}
