//! TLS: rustls with the `ring` provider, and the self-signed localhost certificate `init` makes.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

/// Generates a self-signed certificate for `localhost` and `127.0.0.1` and writes the pair
/// (key readable only by the owner).
pub fn write_self_signed(cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck =
        rcgen::generate_simple_self_signed(names).context("cannot generate a TLS certificate")?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(cert_path, ck.cert.pem())?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(key_path)
        .with_context(|| format!("cannot create {}", key_path.display()))?;
    std::io::Write::write_all(&mut f, ck.signing_key.serialize_pem().as_bytes())?;
    Ok(())
}

/// Builds the rustls server configuration from PEM files (TLS 1.2 and 1.3, HTTP/1.1 ALPN).
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert_path)
            .with_context(|| format!("cannot open TLS certificate {}", cert_path.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("invalid PEM in {}", cert_path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate found in {}", cert_path.display());
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key_path)
            .with_context(|| format!("cannot open TLS key {}", key_path.display()))?,
    ))
    .with_context(|| format!("invalid PEM in {}", key_path.display()))?
    .ok_or_else(|| anyhow::anyhow!("no private key found in {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
