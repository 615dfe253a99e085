//! TLS: rustls with the `ring` provider, and the self-signed localhost certificate `init` makes.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// Generates a self-signed certificate for `localhost` and `127.0.0.1` and writes the pair
/// (key readable only by the owner).
pub fn write_self_signed(cert_path: &Path, key_path: &Path) -> Result<(), Error> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::Tls(format!("cannot generate a certificate: {e}")))?;
    if let Some(dir) = cert_path.parent() {
        crate::datadir::create_private_dir(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    en_api::keyfile::write_new(cert_path, ck.cert.pem().as_bytes(), false)?;
    en_api::keyfile::write_new(key_path, ck.signing_key.serialize_pem().as_bytes(), true)?;
    Ok(())
}

/// Builds the rustls server configuration from PEM files (TLS 1.2 and 1.3, HTTP/1.1 ALPN).
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let bad = |p: &Path, what: &str| Error::Tls(format!("{}: {what}", p.display()));
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|_| bad(cert_path, "cannot read a PEM certificate chain"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(cert_path, "invalid PEM"))?;
    if certs.is_empty() {
        return Err(bad(cert_path, "no certificate found"));
    }
    // The error never includes key material: only the path and what is wrong.
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|_| bad(key_path, "no readable PEM private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|_| Error::Tls("the TLS certificate and key do not match".into()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
