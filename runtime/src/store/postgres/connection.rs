//! Opening connections: one [`Connector`] per store makes every connection (the pool's, the
//! listener's, the leases'), each over TLS as the options say.

use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Socket};

use super::backend;
use super::options::{PostgresOptions, TlsMode};
use crate::error::StoreError;
use crate::trace::warn;

#[cfg(feature = "postgres-tls")]
type MakeTls = tokio_postgres_rustls::MakeRustlsConnect;
#[cfg(not(feature = "postgres-tls"))]
type MakeTls = tokio_postgres::NoTls;

/// A connection's driver: the task that reads and writes its socket.
pub(super) type Connection = tokio_postgres::Connection<Socket, <MakeTls as MakeTlsConnect<Socket>>::Stream>;

/// What a connection is for, as its failure is logged.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role {
    /// One of the pool's query connections.
    Pool,
    /// The connection that holds a lease: when it fails, the lease is lost.
    Lease,
}

/// Opens connections with one configuration and one TLS setup.
#[derive(Clone)]
pub(super) struct Connector {
    config: Config,
    tls: MakeTls,
}

impl Connector {
    /// Checks `options` and prepares TLS (reading the root certificates, if a file is given).
    pub(super) fn new(options: &PostgresOptions) -> Result<Connector, StoreError> {
        let config = options.validate()?;
        let tls = make_tls(options)?;
        Ok(Connector { config, tls })
    }

    /// A new connection and its driver, which the caller must run.
    pub(super) async fn connect(&self) -> Result<(Client, Connection), StoreError> {
        #[cfg_attr(not(feature = "postgres-tls"), allow(clippy::clone_on_copy))] // `NoTls` is `Copy`
        let tls = self.tls.clone();
        self.config.connect(tls).await.map_err(backend)
    }

    /// A new connection, its driver spawned on the current runtime; a driver that ends in an
    /// error (the server went away, the network failed) says so in the log.
    pub(super) async fn connect_spawned(&self, role: Role) -> Result<Client, StoreError> {
        let (client, connection) = self.connect().await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                match role {
                    Role::Lease => {
                        warn!(store = "postgres", error = %error, "a lease's connection failed: the lease is lost")
                    }
                    Role::Pool => warn!(store = "postgres", error = %error, "a pooled connection failed"),
                }
            }
        });
        Ok(client)
    }
}

#[cfg(not(feature = "postgres-tls"))]
fn make_tls(options: &PostgresOptions) -> Result<MakeTls, StoreError> {
    let mode = options.effective_tls();
    if mode == TlsMode::Disable || mode == TlsMode::Prefer && options.root_certificate.is_none() {
        // `Prefer` without TLS support connects in plain TCP, as libpq built without SSL does.
        return Ok(tokio_postgres::NoTls);
    }
    let option = if options.root_certificate.is_some() { "sslrootcert" } else { "sslmode" };
    Err(StoreError::InvalidInput {
        what: format!("PostgreSQL option `{option}`"),
        reason: "TLS needs factum's `postgres-tls` feature, which this build does not have".to_owned(),
    })
}

#[cfg(feature = "postgres-tls")]
fn make_tls(options: &PostgresOptions) -> Result<MakeTls, StoreError> {
    use std::sync::Arc;

    use rustls::RootCertStore;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let invalid = |option: &str, reason: String| StoreError::InvalidInput {
        what: format!("PostgreSQL option `{option}`"),
        reason,
    };
    // ring, chosen explicitly: the process-wide default would panic if another crate also
    // enabled aws-lc-rs, and ring builds without cmake or nasm.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(backend)?;
    let mode = options.effective_tls();
    let config = if matches!(mode, TlsMode::Disable | TlsMode::Prefer | TlsMode::Require) {
        // Encrypted, not authenticated, as libpq's `prefer` and `require`.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::Lenient { chain: None, provider }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &options.root_certificate {
            Some(path) => {
                let shown = path.display();
                let certificates = CertificateDer::pem_file_iter(path)
                    .map_err(|e| invalid("sslrootcert", format!("cannot read {shown}: {e}")))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid("sslrootcert", format!("{shown} is not a PEM file of certificates: {e}")))?;
                if certificates.is_empty() {
                    return Err(invalid("sslrootcert", format!("{shown} holds no certificate")));
                }
                for certificate in certificates {
                    roots.add(certificate).map_err(|e| invalid("sslrootcert", format!("{shown}: {e}")))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let roots = Arc::new(roots);
        if mode == TlsMode::VerifyFull {
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let chain =
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build().map_err(backend)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verify::Lenient { chain: Some(chain), provider }))
                .with_no_client_auth()
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The certificate checks of `require` and `verify-ca`, which rustls (made for the web,
/// where the name is the point) does not offer: both still check the handshake's signature
/// with the server's key, so the session is bound to the certificate presented.
#[cfg(feature = "postgres-tls")]
mod verify {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

    /// A server certificate check short of `verify-full`.
    #[derive(Debug)]
    pub(super) struct Lenient {
        /// `None` for `require`: any certificate (libpq does not check it either in this
        /// mode). `Some` for `verify-ca`: the chain up to a trusted root, validity dates
        /// included; any host name.
        pub(super) chain: Option<Arc<WebPkiServerVerifier>>,
        pub(super) provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for Lenient {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
            // webpki checks the chain before the name: a name error means the chain is good.
            match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }
}
