//! One module per command.

pub mod authority;
pub mod checkin;
pub mod checkout;
pub mod fetch;
pub mod inspect;
pub mod phone;
pub mod phone_sync;
pub mod rpis;
pub mod run;
pub mod sealing_keygen;
pub mod trace;
pub mod travel;
pub mod venue;
pub mod venue_notifications;
pub mod venues;

use std::path::Path;

use en_protocol::keys::PublicKey;
use en_protocol::verify::ExportKeys;

/// The trusted export keys given as hex on the command line.
pub fn trusted(keys: &[String]) -> anyhow::Result<ExportKeys> {
    let pks = keys
        .iter()
        .map(|k| {
            PublicKey::from_hex(k).map_err(|_| {
                anyhow::anyhow!("--public-key must be a 64-hex-character ed25519 public key")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ExportKeys::new(pks))
}

/// A multi-threaded tokio runtime for the client commands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Writes `text` and a newline to stdout. A closed pipe (`en-sim … | head`) ends the output
/// quietly instead of panicking as `println!` would.
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Reads a small text file (a certificate or HMAC key in base64).
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
