//! `en-sim phone checkin`: a phone scans a venue's entry code. Scanning the code of the open
//! visit checks out; another code checks out and in; a visit closes by itself after
//! --duration.

use std::path::PathBuf;

use anyhow::Context;
use en_client::venue::{VenuePhone, DEFAULT_HOST};
use en_protocol::venue::visit::DEFAULT_VISIT_SECONDS;
use en_protocol::venue::EntryPayload;
use en_protocol::UnixTime;

use super::venue::qr;
use crate::args;

/// Arguments of `en-sim phone checkin`.
#[derive(clap::Args)]
pub struct Args {
    /// The phone's venue state file (created if missing; mode 0600).
    #[arg(long)]
    state: PathBuf,
    /// The entry code's URL (https://HOST/v#…), or a file holding it (entry-url.txt).
    #[arg(long, required_unless_present = "qr", conflicts_with = "qr")]
    payload: Option<String>,
    /// A PNG image of the entry QR code (entry-qr.png, or a photo of the poster).
    #[arg(long)]
    qr: Option<PathBuf>,
    /// When the code is scanned (Unix seconds or 2026-01-01T09:10:00Z).
    #[arg(long, value_parser = args::time, default_value = "now")]
    at: UnixTime,
    /// Automatic check-out after this many seconds (1 to 86400).
    #[arg(long, default_value_t = DEFAULT_VISIT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    duration: u64,
    /// The app's own check-in host: codes for any other host are refused.
    #[arg(long, default_value = DEFAULT_HOST)]
    host: String,
}

/// The URL the scan read: from --qr, or --payload as a URL or a file holding one.
fn scanned(payload: Option<&str>, qr: Option<&PathBuf>) -> anyhow::Result<String> {
    match (payload, qr) {
        (_, Some(png)) => {
            let bytes =
                std::fs::read(png).with_context(|| format!("cannot read {}", png.display()))?;
            qr::decode_png(&bytes).with_context(|| format!("{}", png.display()))
        }
        (Some(p), None) if p.starts_with("https://") => Ok(p.to_string()),
        (Some(p), None) => Ok(std::fs::read_to_string(p)
            .with_context(|| {
                format!("--payload is neither an https:// URL nor a readable file: {p}")
            })?
            .trim()
            .to_string()),
        (None, None) => anyhow::bail!("give --payload or --qr"),
    }
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let url = scanned(self.payload.as_deref(), self.qr.as_ref())?;
        let payload = EntryPayload::from_url(&url, &self.host)
            .map_err(|e| anyhow::anyhow!("not an entry code of {}: {e}", self.host))?;
        let mut phone = VenuePhone::load(&self.state)?;
        let venue = payload.description().to_string();
        let s = phone.scan(payload, self.at, self.duration, &mut rand::rngs::OsRng)?;
        phone.save(&self.state)?;
        match s.checked_in {
            Some((venue, checkout_at)) => {
                if s.closed_records > 0 {
                    println!(
                        "checked out of the previous visit ({} hourly record(s) stored)",
                        s.closed_records
                    );
                }
                println!(
                    "checked in at \"{venue}\" at {} (automatic check-out at {})",
                    args::fmt_time(self.at),
                    args::fmt_time(checkout_at)
                );
            }
            None => println!(
                "checked out of \"{venue}\" at {} (same code scanned again): {} hourly record(s) stored",
                args::fmt_time(self.at),
                s.closed_records
            ),
        }
        Ok(())
    }
}
