//! `en-sim venue create`: a venue's setup, offline, and every file its owner needs.

use std::path::PathBuf;

use anyhow::{bail, Context};
use en_api::keyfile::write_new;
use en_api::venue_files;
use en_client::venue::DEFAULT_HOST;

use super::poster::poster;
use super::qr::Qr;

/// Pixels per QR module in the PNG (a 57-module code is then 520 pixels wide).
const PNG_SCALE: usize = 8;

/// Arguments of `en-sim venue create`.
#[derive(clap::Args)]
pub struct Args {
    /// The venue's name, shown to visitors when they scan (1-100 bytes, no control characters).
    #[arg(long)]
    name: String,
    /// The venue's address (0-100 bytes).
    #[arg(long, default_value = "")]
    address: String,
    /// The health authority's sealing public key: 64 hex characters, or the .pub file
    /// `en-sim authority sealing-keygen` wrote.
    #[arg(long)]
    authority_key: String,
    /// Host of the app's check-in links: the QR code holds https://HOST/v#<payload>.
    #[arg(long, default_value = DEFAULT_HOST)]
    host: String,
    /// Directory for the files (created if needed; existing files are never overwritten).
    #[arg(long)]
    out: PathBuf,
}

const FILES: [&str; 6] = [
    "tracing.secret",
    "entry.bin",
    "entry-url.txt",
    "entry-qr.svg",
    "entry-qr.png",
    "poster.svg",
];

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let pk = venue_files::parse_sealing_public_key(&self.authority_key)?;
        if let Some(f) = FILES.iter().find(|f| self.out.join(f).exists()) {
            bail!(
                "{} already exists: choose another --out directory (a venue's files are never overwritten)",
                self.out.join(f).display()
            );
        }
        let (payload, secret) =
            en_protocol::venue::setup(&mut rand::rngs::OsRng, &self.name, &self.address, &pk)
                .map_err(|_| {
                    anyhow::anyhow!(
                        "--name must be 1-100 bytes and --address at most 100 bytes, without control characters"
                    )
                })?;
        let url = payload
            .to_url(&self.host)
            .map_err(|_| anyhow::anyhow!("--host must be 1-253 of a-z 0-9 . - :"))?;
        let qr = Qr::encode(&url)?;
        let path = |f: &str| self.out.join(f);
        venue_files::write_tracing_secret(&path(FILES[0]), &secret)?;
        write_new(&path(FILES[1]), payload.encode(), false)?;
        write_new(&path(FILES[2]), format!("{url}\n").as_bytes(), false)?;
        write_new(&path(FILES[3]), qr.svg(60).as_bytes(), false)?;
        write_new(&path(FILES[4]), &qr.png(PNG_SCALE)?, false)?;
        write_new(
            &path(FILES[5]),
            poster(&qr, &self.name, &self.address).as_bytes(),
            false,
        )
        .context("cannot write the poster")?;
        println!("venue \"{}\" created in {}:", self.name, self.out.display());
        println!("  entry-url.txt    {url}");
        println!("  entry-qr.svg/png the entry QR code (public: it hangs at the door)");
        println!(
            "  poster.svg       A4 poster with the code; print it and hang it at the entrance"
        );
        println!("  entry.bin        the entry payload");
        println!("  tracing.secret   SECRET (mode 0600): keep it offline. If a case was here, the health");
        println!(
            "                   authority asks you for a trace request made from it (en-sim venue"
        );
        println!("                   trace-request); without it your visitors cannot be warned.");
        Ok(())
    }
}
