//! The PostgreSQL store over TLS, against a server that refuses TCP without it
//! (`scripts/postgres.sh start-tls DIR`, which `scripts/test` runs).
//!
//! Needs `FACTUM_POSTGRES_TLS_URL` (the server, without `sslmode`) and
//! `FACTUM_POSTGRES_TLS_CA` (the PEM file of the CA that signed its certificate, made for
//! `localhost` and `127.0.0.1`). Without them the tests pass at once after saying so,
//! except under `CI=true`, where they fail: CI must run them.
//!
//! Since the server takes no plain TCP connection, a store that works at all has its pool,
//! its listener and its leases on TLS; the core cases of the suite run over `verify-full`.

use std::sync::Once;

use factum::{PostgresOptions, PostgresStore, StoreError, TlsMode};

/// The TLS server's URL and its CA file, or `None` (outside CI) when there is none.
fn server() -> Option<(String, String)> {
    static SKIPPED: Once = Once::new();
    let url = std::env::var("FACTUM_POSTGRES_TLS_URL").ok().filter(|url| !url.is_empty());
    let ca = std::env::var("FACTUM_POSTGRES_TLS_CA").ok().filter(|ca| !ca.is_empty());
    match (url, ca) {
        (Some(url), Some(ca)) => Some((url, ca)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI must run the TLS tests: FACTUM_POSTGRES_TLS_URL and FACTUM_POSTGRES_TLS_CA are not set")
        }
        _ => {
            SKIPPED.call_once(|| {
                eprintln!("==================================================================");
                eprintln!("PostgreSQL TLS tests SKIPPED: FACTUM_POSTGRES_TLS_URL / _CA not set");
                eprintln!("(bash scripts/postgres.sh start-tls DIR starts a server for them).");
                eprintln!("==================================================================");
            });
            None
        }
    }
}

/// `url` with `params` added to its query string.
fn with_params(url: &str, params: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

/// `url` with its host replaced by `host`, still reaching 127.0.0.1 (`hostaddr`): the
/// certificate is checked against `host`.
fn as_host(url: &str, host: &str) -> String {
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    with_params(&url, "hostaddr=127.0.0.1")
}

/// A fresh store over `verify-full` with the test CA, or `None` when there is no server.
pub async fn fresh_store() -> Option<PostgresStore> {
    let (url, ca) = server()?;
    let url = with_params(&url, &format!("sslmode=verify-full&sslrootcert={ca}"));
    let options = PostgresOptions::from_url(&url).unwrap().schema(&crate::postgres::fresh_schema()).pool_size(4);
    Some(PostgresStore::connect_with_options(options).await.unwrap_or_else(|e| panic!("verify-full over TLS: {e}")))
}

macro_rules! case {
    ($test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $test() {
            let Some(store) = fresh_store().await else { return };
            crate::suite::$test(store).await;
        }
    };
}

/// The core of the conformance suite, over `verify-full`.
mod verify_full {
    use super::fresh_store;

    case!(append_and_read);
    case!(expected_version_conflicts_write_nothing);
    case!(read_all_order_filters_and_limits);
    case!(snapshots_and_checkpoints);
    case!(waiting_for_new_events);
    case!(only_one_process_runs_a_projection_at_a_time);
}

/// The server takes no plain TCP connection, so the tests above prove TLS is used.
#[tokio::test]
async fn the_server_refuses_plain_tcp() {
    let Some((url, _)) = server() else { return };
    let options =
        PostgresOptions::from_url(&url).unwrap().tls(TlsMode::Disable).schema(&crate::postgres::fresh_schema());
    let chain = error_chain(&PostgresStore::connect_with_options(options).await.unwrap_err());
    assert!(chain.contains("no encryption"), "{chain}");
}

/// `verify-full` refuses a certificate that was not issued for the host name connected to,
/// and says why; `verify-ca` (the chain only) takes it.
#[tokio::test]
async fn verify_full_refuses_a_host_name_not_in_the_certificate() {
    let Some((url, ca)) = server() else { return };
    let elsewhere = as_host(&url, "not-in-the-certificate.invalid");
    let options = |mode: &str| {
        let url = with_params(&elsewhere, &format!("sslmode={mode}&sslrootcert={ca}"));
        PostgresOptions::from_url(&url).unwrap().schema(&crate::postgres::fresh_schema()).pool_size(1)
    };
    let error = PostgresStore::connect_with_options(options("verify-full")).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    let chain = error_chain(&error);
    assert!(chain.contains("not valid for name"), "the error says the name is wrong: {chain}");
    assert!(chain.contains("not-in-the-certificate.invalid"), "and names it: {chain}");
    PostgresStore::connect_with_options(options("verify-ca")).await.expect("verify-ca does not check the name");
    // By its own name (`localhost`, in the certificate) verify-full connects.
    let localhost = with_params(&as_host(&url, "localhost"), &format!("sslmode=verify-full&sslrootcert={ca}"));
    let options = PostgresOptions::from_url(&localhost).unwrap().schema(&crate::postgres::fresh_schema()).pool_size(1);
    PostgresStore::connect_with_options(options).await.expect("verify-full to localhost");
}

/// Without the CA, the chain cannot be checked: `verify-ca` refuses (the built-in roots do
/// not hold a throwaway CA), while `require`, which encrypts without checking, connects.
#[tokio::test]
async fn require_connects_without_the_ca_and_verify_ca_does_not() {
    let Some((url, _)) = server() else { return };
    let options = |mode: &str| {
        let url = with_params(&url, &format!("sslmode={mode}"));
        PostgresOptions::from_url(&url).unwrap().schema(&crate::postgres::fresh_schema()).pool_size(1)
    };
    let error = PostgresStore::connect_with_options(options("verify-ca")).await.unwrap_err();
    let chain = error_chain(&error);
    assert!(chain.contains("UnknownIssuer"), "the error says the issuer is unknown: {chain}");
    let store = PostgresStore::connect_with_options(options("require")).await.expect("require without a CA");
    crate::suite::append_and_read(store).await;
}

/// A CA file that is not one is refused before connecting, naming the option.
#[tokio::test]
async fn a_bad_root_certificate_file_names_the_option() {
    let Some((url, _)) = server() else { return };
    let bad = std::env::temp_dir().join(format!("factum-not-a-ca-{}.pem", std::process::id()));
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let options = PostgresOptions::from_url(&url).unwrap().tls(TlsMode::VerifyFull).root_certificate(&bad);
    let error = PostgresStore::connect_with_options(options).await.unwrap_err();
    std::fs::remove_file(&bad).unwrap();
    assert!(matches!(error, StoreError::InvalidInput { .. }), "{error:?}");
    assert!(error.to_string().contains("`sslrootcert`"), "{error}");
}

/// The error and its sources, in one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
