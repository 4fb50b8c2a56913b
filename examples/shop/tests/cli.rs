//! The `factum-shop` program itself: its flags and variables as a user sets them, and its log.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Output, Stdio};

use common::scratch_dir;

/// The program, with no FACTUM_SHOP_* or RUST_LOG of the caller's.
fn shop() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_factum-shop"));
    for name in ["FACTUM_SHOP_DB", "FACTUM_SHOP_POSTGRES_URL", "FACTUM_SHOP_ADDR", "RUST_LOG"] {
        command.env_remove(name);
    }
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_variables_are_read_and_flags_beat_them() {
    let dir = scratch_dir("cli-env");
    let db = dir.join("from-env.db");
    let mut from_env = shop();
    from_env.env("FACTUM_SHOP_DB", &db).env("FACTUM_SHOP_ADDR", "127.0.0.1:no-port");
    let failed = from_env.output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr(&failed).contains("ERROR"), "logged as an error: {}", stderr(&failed));
    assert!(stderr(&failed).contains("cannot listen on 127.0.0.1:no-port"), "{}", stderr(&failed));
    assert!(db.exists(), "the store was opened where FACTUM_SHOP_DB says");

    let flag = from_env.args(["--addr", "127.0.0.1:other"]).output().unwrap();
    assert!(stderr(&flag).contains("cannot listen on 127.0.0.1:other"), "{}", stderr(&flag));
}

#[test]
fn a_bad_command_line_or_log_filter_exits_with_2_and_says_why() {
    let unknown = shop().arg("--port").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unexpected argument '--port'"), "{}", stderr(&unknown));

    let dir = scratch_dir("cli-rust-log");
    let bad_filter = shop().env("RUST_LOG", "shop=loud").arg("--db").arg(dir.join("shop.db")).output().unwrap();
    assert_eq!(bad_filter.status.code(), Some(2));
    assert!(stderr(&bad_filter).starts_with("factum-shop: RUST_LOG: "), "{}", stderr(&bad_filter));
}

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_without_the_feature_is_refused_up_front() {
    let refused = shop().args(["--postgres", "postgres://127.0.0.1/x"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--features postgres"), "{}", stderr(&refused));
}

/// A running `factum-shop`, killed when dropped, and its log.
struct Serving {
    child: Child,
    log: BufReader<ChildStderr>,
}

impl Serving {
    /// The next line of the log that contains `text`.
    fn line_with(&mut self, text: &str) -> String {
        let mut line = String::new();
        while !line.contains(text) {
            line.clear();
            assert_ne!(self.log.read_line(&mut line).unwrap(), 0, "the log ended before a line with {text:?}");
        }
        line
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// At the default filter, the log has the address served and a line per request.
#[test]
fn each_request_is_logged_at_the_default_level() {
    let dir = scratch_dir("cli-log");
    let mut command = shop();
    command.args(["--addr", "127.0.0.1:0", "--db"]).arg(dir.join("shop.db")).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let log = BufReader::new(child.stderr.take().unwrap());
    let mut serving = Serving { child, log };
    let banner = serving.line_with("factum shop on http://");
    let addr = banner.split("http://").nth(1).and_then(|rest| rest.split(' ').next()).unwrap().to_owned();

    let mut connection = TcpStream::connect(&addr).unwrap();
    connection.write_all(b"GET /nothing-here HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n").unwrap();
    connection.read_to_end(&mut Vec::new()).unwrap();
    let line = serving.line_with("status=");
    assert!(line.contains("INFO") && line.contains("uri=/nothing-here") && line.contains("status=404"), "{line}");
}

/// A read model that cannot take in an event already stored does not keep the program from
/// serving: it logs an error naming the read model, the event, its stream and position.
#[test]
fn a_read_model_stopped_at_start_up_is_logged_as_an_error_and_the_shop_serves() {
    let dir = scratch_dir("cli-bad-event");
    let db = dir.join("shop.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use factum::{EventStore, Metadata, NewEvent, SqliteStore, StreamRef};
        let store = SqliteStore::open(&db).await.unwrap();
        let bad = NewEvent { name: "ProductAdded", version: 1, payload: r#"{"nonsense":true}"#.to_owned() };
        store.append(StreamRef::new("product", "p-bad"), 0, &Metadata::default(), vec![bad]).await.unwrap();
    });
    let mut command = shop();
    command.args(["--addr", "127.0.0.1:0", "--db"]).arg(&db).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let log = BufReader::new(child.stderr.take().unwrap());
    let mut serving = Serving { child, log };
    let stopped = serving.line_with("a read model stopped");
    for part in [
        "ERROR",
        "read_model=\"catalog\"",
        "event=\"ProductAdded\"",
        "stream=\"product/p-bad\"",
        "position=1",
        "missing field `name`",
    ] {
        assert!(stopped.contains(part), "{part} in {stopped}");
    }
    serving.line_with("factum shop on http://");
}
