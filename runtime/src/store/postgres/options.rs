//! [`PostgresOptions`]: where the database is, how to reach it, and how the store uses it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode};

use crate::error::StoreError;

/// The schema a store uses unless told otherwise.
pub(super) const DEFAULT_SCHEMA: &str = "factum";
/// The number of query connections a store keeps unless told otherwise.
pub(super) const DEFAULT_POOL_SIZE: usize = 8;
/// PostgreSQL truncates longer identifiers, so two long schema names could collide.
const MAX_SCHEMA_LEN: usize = 63;

/// How a [`PostgresStore`](super::PostgresStore) uses TLS, as libpq's `sslmode`.
///
/// | mode | encrypted | certificate chain checked | host name checked |
/// |---|---|---|---|
/// | `Disable` | no | no | no |
/// | `Prefer` (the default) | if the server offers it | no | no |
/// | `Require` | yes | no (yes with a root certificate, as libpq) | no |
/// | `VerifyCa` | yes | yes | no |
/// | `VerifyFull` | yes | yes | yes |
///
/// Only `VerifyFull` protects against a server that impersonates another; use it over
/// any network you do not control. Connections over a Unix socket never use TLS.
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// Plain TCP only (`sslmode=disable`).
    Disable,
    /// TLS if the server offers it, else plain TCP; the certificate is not checked
    /// (`sslmode=prefer`, libpq's default too).
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked unless a root certificate is
    /// given, which makes this [`VerifyCa`](TlsMode::VerifyCa) (`sslmode=require`).
    Require,
    /// TLS, with the server's certificate chain checked against the root certificates
    /// (`sslmode=verify-ca`).
    VerifyCa,
    /// TLS, with the certificate chain checked and issued for the host connected to
    /// (`sslmode=verify-full`).
    VerifyFull,
}

impl TlsMode {
    /// Reads an `sslmode` value: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    fn parse(value: &str) -> Option<TlsMode> {
        Some(match value {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    /// What tokio-postgres is told: whether TLS is off, tried or required.
    pub(super) fn ssl_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }
}

/// How to connect a [`PostgresStore`](super::PostgresStore): the server, the credentials,
/// the schema, the pool, time limits and TLS.
///
/// Start from a URL ([`from_url`](PostgresOptions::from_url), or `str::parse`) or from
/// the parts ([`new`](PostgresOptions::new) and [`host`](PostgresOptions::host), ...),
/// change what you need, and pass it to
/// [`PostgresStore::connect_with_options`](super::PostgresStore::connect_with_options),
/// which checks every option and names the one it refuses.
///
/// ```no_run
/// use std::time::Duration;
/// use factum::{PostgresOptions, PostgresStore, TlsMode};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let options = PostgresOptions::from_url("postgres://app:secret@db.example.com/app?sslmode=verify-full")?
///     .schema("billing")
///     .pool_size(16)
///     .statement_timeout(Duration::from_secs(30));
/// let store = PostgresStore::connect_with_options(options).await?;
///
/// // The same from parts, with a private certificate authority.
/// let options = PostgresOptions::new()
///     .host("db.internal")
///     .port(5432)
///     .user("app")
///     .password("secret")
///     .dbname("app")
///     .tls(TlsMode::VerifyFull)
///     .root_certificate("/etc/factum/db-ca.pem");
/// let store = PostgresStore::connect_with_options(options).await?;
/// # Ok(()) }
/// ```
///
/// In a URL, `sslmode` takes the five values of [`TlsMode`], and `sslrootcert=PATH` names
/// a PEM file of root certificates to trust instead of the built-in Mozilla roots
/// ([`root_certificate`](PostgresOptions::root_certificate)); every other parameter is
/// what [`tokio_postgres::Config`] reads.
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PostgresOptions {
    pub(super) config: Config,
    pub(super) schema: String,
    pub(super) pool_size: usize,
    pub(super) statement_timeout: Option<Duration>,
    pub(super) tls: TlsMode,
    pub(super) root_certificate: Option<PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions::new()
    }
}

impl PostgresOptions {
    /// No server yet (give at least a [`host`](PostgresOptions::host)); schema `factum`,
    /// 8 query connections, no time limits, TLS [`Prefer`](TlsMode::Prefer).
    pub fn new() -> PostgresOptions {
        PostgresOptions::with_config(Config::new())
    }

    /// The options of `url`: `postgres://user:password@host:port/database?param=value`
    /// or `host=... user=... sslmode=...`, with the defaults of
    /// [`new`](PostgresOptions::new) for the rest.
    ///
    /// Fails, naming the option, on one that is unknown or has a bad value.
    pub fn from_url(url: &str) -> Result<PostgresOptions, StoreError> {
        let (rest, tls) = take_tls_params(url)?;
        let config: Config = rest.parse().map_err(|error: tokio_postgres::Error| StoreError::InvalidInput {
            what: "PostgreSQL connection URL".to_owned(),
            // tokio-postgres says which option in the error's source.
            reason: match std::error::Error::source(&error) {
                Some(cause) => format!("{error}: {cause}"),
                None => error.to_string(),
            },
        })?;
        let mut options = PostgresOptions::with_config(config);
        if let Some(mode) = tls.mode {
            options.tls = mode;
        }
        options.root_certificate = tls.root_certificate.map(PathBuf::from);
        Ok(options)
    }

    fn with_config(mut config: Config) -> PostgresOptions {
        if config.get_application_name().is_none() {
            config.application_name("factum");
        }
        PostgresOptions {
            config,
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: None,
            tls: TlsMode::default(),
            root_certificate: None,
        }
    }

    /// Adds a host to connect to: a name, an IP address, or (on Unix) the directory of a
    /// server's socket. Given several times, they are tried in order.
    pub fn host(mut self, host: &str) -> Self {
        self.config.host(host);
        self
    }

    /// The TCP port (default 5432); given once for every host, or once per host.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port(port);
        self
    }

    /// The user to log in as.
    pub fn user(mut self, user: &str) -> Self {
        self.config.user(user);
        self
    }

    /// The user's password.
    pub fn password(mut self, password: impl AsRef<[u8]>) -> Self {
        self.config.password(password);
        self
    }

    /// The database (default: the user's name).
    pub fn dbname(mut self, dbname: &str) -> Self {
        self.config.dbname(dbname);
        self
    }

    /// The schema that holds the store's tables (default `factum`; created if missing; at
    /// most 63 bytes). Stores in different schemas of one database are independent.
    pub fn schema(mut self, schema: &str) -> Self {
        schema.clone_into(&mut self.schema);
        self
    }

    /// The most query connections the store keeps open (default 8, at least 1). The store
    /// also keeps one that listens for new events, and one per lease held or awaited.
    pub fn pool_size(mut self, pool_size: usize) -> Self {
        self.pool_size = pool_size;
        self
    }

    /// How long opening a connection may take (`connect_timeout`, in whole seconds in a
    /// URL); by default there is no limit.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout(timeout);
        self
    }

    /// How long one statement may run on the server before it cancels it (PostgreSQL's
    /// `statement_timeout`, in milliseconds); by default there is no limit. An append that
    /// waits its turn for the position lock counts that wait too.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// How TLS is used (default [`Prefer`](TlsMode::Prefer), as in libpq).
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// A PEM file of the root certificates to trust, instead of the built-in Mozilla roots
    /// (`sslrootcert` in a URL): the certificate authority of a private server.
    pub fn root_certificate(mut self, path: impl AsRef<Path>) -> Self {
        self.root_certificate = Some(path.as_ref().to_owned());
        self
    }

    /// The TLS mode in force: [`Require`](TlsMode::Require) with a root certificate checks
    /// the chain, as in libpq.
    pub(super) fn effective_tls(&self) -> TlsMode {
        match self.tls {
            TlsMode::Require if self.root_certificate.is_some() => TlsMode::VerifyCa,
            mode => mode,
        }
    }

    /// Checks every option, naming the first one that is wrong, and returns the
    /// tokio-postgres configuration to connect with.
    pub(super) fn validate(&self) -> Result<Config, StoreError> {
        let invalid = |option: &str, reason: String| StoreError::InvalidInput {
            what: format!("PostgreSQL option `{option}`"),
            reason,
        };
        crate::store::validate_id("schema", &self.schema)?;
        if self.schema.len() > MAX_SCHEMA_LEN {
            return Err(StoreError::InvalidInput {
                what: format!("schema {:?}", self.schema),
                reason: format!("it is {} bytes long; the limit is {MAX_SCHEMA_LEN}", self.schema.len()),
            });
        }
        if self.pool_size == 0 {
            return Err(invalid("pool_size", "it must be at least 1".to_owned()));
        }
        let hosts = self.config.get_hosts();
        if hosts.is_empty() && self.config.get_hostaddrs().is_empty() {
            return Err(invalid("host", "no host given".to_owned()));
        }
        let ports = self.config.get_ports();
        if ports.len() > 1 && ports.len() != hosts.len().max(self.config.get_hostaddrs().len()) {
            return Err(invalid("port", format!("{} ports for {} hosts", ports.len(), hosts.len())));
        }
        if self.config.get_connect_timeout().is_some_and(|t| t.is_zero()) {
            return Err(invalid("connect_timeout", "it must be longer than zero".to_owned()));
        }
        let mut config = self.config.clone();
        if let Some(timeout) = self.statement_timeout {
            let millis = timeout.as_millis();
            if millis == 0 || millis > i32::MAX as u128 {
                return Err(invalid(
                    "statement_timeout",
                    format!("it must be from 1 ms to {} ms, not {timeout:?}", i32::MAX),
                ));
            }
            let given = config.get_options().map(|o| format!("{o} ")).unwrap_or_default();
            config.options(format!("{given}-c statement_timeout={millis}"));
        }
        if let Some(path) = &self.root_certificate {
            if self.tls == TlsMode::Disable {
                return Err(invalid("sslrootcert", "a root certificate needs TLS, but sslmode is disable".to_owned()));
            }
            if !path.is_file() {
                return Err(invalid("sslrootcert", format!("{} is not a readable file", path.display())));
            }
        }
        let verifies_name = self.effective_tls() == TlsMode::VerifyFull;
        if verifies_name && hosts.iter().all(|host| !matches!(host, Host::Tcp(_))) {
            return Err(invalid(
                "sslmode",
                "verify-full needs a host name to check, and no TCP host is given".to_owned(),
            ));
        }
        config.ssl_mode(self.effective_tls().ssl_mode());
        Ok(config)
    }
}

impl std::str::FromStr for PostgresOptions {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        PostgresOptions::from_url(url)
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio-postgres's own Debug redacts the password.
        f.debug_struct("PostgresOptions")
            .field("config", &self.config)
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("tls", &self.tls)
            .field("root_certificate", &self.root_certificate)
            .finish()
    }
}

/// The TLS parameters of a URL, which tokio-postgres does not know (or knows only in part).
#[derive(Debug, Default, PartialEq)]
struct TlsParams {
    mode: Option<TlsMode>,
    root_certificate: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of `url` (either form), returning the rest for
/// tokio-postgres to parse.
fn take_tls_params(url: &str) -> Result<(String, TlsParams), StoreError> {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: String| -> Result<bool, StoreError> {
        match key {
            "sslmode" => {
                params.mode = Some(TlsMode::parse(&value).ok_or_else(|| StoreError::InvalidInput {
                    what: "PostgreSQL option `sslmode`".to_owned(),
                    reason: format!("{value:?} is not one of disable, prefer, require, verify-ca, verify-full"),
                })?);
                Ok(true)
            }
            "sslrootcert" => {
                params.root_certificate = Some(value);
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), params)) };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&percent_decode(key), percent_decode(value))? {
                kept.push(pair);
            }
        }
        if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
    } else {
        let mut rest = String::with_capacity(url.len());
        for (key, value, text) in key_values(url) {
            if !take(key, value)? {
                rest.push_str(text);
                rest.push(' ');
            }
        }
        rest
    };
    Ok((rest, params))
}

/// The `key=value` pairs of a libpq connection string, each with its text as written.
/// Values may be single-quoted, with `\'` and `\\` escapes. Text that does not parse is
/// handed on as one pair with no key, for tokio-postgres to report.
fn key_values(s: &str) -> Vec<(&str, String, &str)> {
    let mut pairs = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            pairs.push(("", String::new(), start));
            break;
        };
        rest = after_eq.trim_start();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let quoted = rest.starts_with('\'');
        if quoted {
            chars.next();
        }
        let mut end = rest.len();
        let mut closed = !quoted;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '\'' if quoted => {
                    end = i + 1;
                    closed = true;
                    break;
                }
                c if !quoted && c.is_whitespace() => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            pairs.push(("", String::new(), start));
            break;
        }
        let text_len = start.len() - rest.len() + end;
        pairs.push((key, value, &start[..text_len]));
        rest = rest[end..].trim_start();
    }
    pairs
}

/// Decodes `%XX` escapes (and leaves anything else as it is).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(options: PostgresOptions) -> String {
        options.validate().unwrap_err().to_string()
    }

    #[test]
    fn tls_parameters_are_taken_out_of_both_url_forms() {
        let (rest, params) =
            take_tls_params("postgres://u@h:5/db?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!(params, TlsParams { mode: Some(TlsMode::VerifyFull), root_certificate: Some("/tmp/ca.pem".into()) });
        let (rest, params) =
            take_tls_params("host=h  sslmode = verify-ca user='o\\'neil' sslrootcert='/a b/ca.pem' dbname=x").unwrap();
        assert_eq!(rest, "host=h user='o\\'neil' dbname=x ");
        assert_eq!(params, TlsParams { mode: Some(TlsMode::VerifyCa), root_certificate: Some("/a b/ca.pem".into()) });
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_user(), Some("o'neil"));
        let (rest, params) = take_tls_params("postgres://u@h/db").unwrap();
        assert_eq!((rest.as_str(), params), ("postgres://u@h/db", TlsParams::default()));
    }

    #[test]
    fn bad_options_are_refused_by_name() {
        let error = PostgresOptions::from_url("postgres://u@h/db?sslmode=verify").unwrap_err().to_string();
        assert!(error.contains("`sslmode`") && error.contains("\"verify\""), "{error}");
        let error = PostgresOptions::from_url("postgres://u@h/db?colour=blue").unwrap_err().to_string();
        assert!(error.contains("colour"), "{error}");
        let url = PostgresOptions::from_url("postgres://u@h/db").unwrap();
        assert!(error_of(url.clone().pool_size(0)).contains("`pool_size`"));
        assert!(error_of(url.clone().statement_timeout(Duration::ZERO)).contains("`statement_timeout`"));
        assert!(error_of(url.clone().connect_timeout(Duration::ZERO)).contains("`connect_timeout`"));
        assert!(error_of(url.clone().schema("")).contains("schema"));
        assert!(error_of(url.clone().schema(&"x".repeat(64))).contains("limit is 63"));
        let missing = error_of(url.clone().tls(TlsMode::VerifyFull).root_certificate("/nonexistent/ca.pem"));
        assert!(missing.contains("`sslrootcert`") && missing.contains("/nonexistent/ca.pem"), "{missing}");
        assert!(error_of(PostgresOptions::new().user("u")).contains("`host`"));
        let socket = PostgresOptions::new().host("/run/postgresql").tls(TlsMode::VerifyFull);
        assert!(error_of(socket).contains("`sslmode`"));
    }

    #[test]
    fn options_reach_the_connection_configuration() {
        let options = PostgresOptions::from_url("postgres://u@h/db?options=-c%20work_mem%3D4MB&sslmode=require")
            .unwrap()
            .statement_timeout(Duration::from_millis(1500));
        let config = options.validate().unwrap();
        assert_eq!(config.get_options(), Some("-c work_mem=4MB -c statement_timeout=1500"));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_application_name(), Some("factum"));
        assert_eq!(options.effective_tls(), TlsMode::Require);
        let parts = PostgresOptions::new().host("h").port(6543).user("u").dbname("d").tls(TlsMode::Disable);
        let config = parts.validate().unwrap();
        assert_eq!(
            (config.get_ports(), config.get_dbname(), config.get_ssl_mode()),
            (&[6543][..], Some("d"), SslMode::Disable)
        );
        let ca = std::env::temp_dir().join(format!("factum-options-{}.pem", std::process::id()));
        std::fs::write(&ca, "").unwrap();
        let pinned = PostgresOptions::new().host("h").tls(TlsMode::Require).root_certificate(&ca);
        assert_eq!(pinned.effective_tls(), TlsMode::VerifyCa, "require with a root certificate checks the chain");
        std::fs::remove_file(&ca).unwrap();
    }
}
