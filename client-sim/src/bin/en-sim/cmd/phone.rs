//! `en-sim phone …`: a phone's keys, tekmac and uploads, and its venue check-ins (one module
//! per venue command).

use std::path::PathBuf;

use base64::Engine;
use clap::Subcommand;
use en_api::keyfile;
use en_client::transport::Client;
use en_client::{now, phone, verify};

/// The phone subcommands.
#[derive(Subcommand)]
pub enum Action {
    /// Make a phone's daily keys for the past DAYS days and write them as KEYS.json.
    Keys {
        /// Number of days.
        #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=30))]
        days: u32,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw a random HMAC key, write it, and print the tekmac of KEYS.json to show the authority.
    Tekmac {
        /// The keys.
        #[arg(long)]
        keys: PathBuf,
        /// Where to write the HMAC key (base64; needed again for the upload).
        #[arg(long)]
        hmac_key_out: PathBuf,
    },
    /// Upload KEYS.json: with a verification code (`--code`: the phone redeems it, gets a
    /// certificate for its tekmac and uploads), or with the authority's certificate and the
    /// HMAC key from `en-sim phone tekmac`.
    Upload {
        /// Server URL.
        #[arg(long)]
        server: String,
        /// The keys.
        #[arg(long)]
        keys: PathBuf,
        /// A verification code as staff gave it: the short code, the long code, or its link.
        #[arg(long, conflicts_with_all = ["hmac_key", "certificate"], required_unless_present = "certificate")]
        code: Option<String>,
        /// The health authority that issued a bare code (a link names its own).
        #[arg(long, requires = "code")]
        authority: Option<String>,
        /// The HMAC key file from `en-sim phone tekmac`.
        #[arg(long, requires = "certificate")]
        hmac_key: Option<PathBuf>,
        /// The certificate file from `en-sim authority certify`.
        #[arg(long, requires = "hmac_key")]
        certificate: Option<PathBuf>,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// A region the person visited in the last 14 days (repeat for several; e.g. from
        /// `en-sim phone sync`'s `--visit`): the server shares the keys with those it
        /// federates with, if the authority allows (spec/federation.md).
        #[arg(long = "visited", value_name = "REGION")]
        visited: Vec<String>,
    },
    /// Send fake (chaff) requests, shaped like a real upload with a code: a fake
    /// `POST /v1/verify` (with `--authority`), a fake `POST /v1/certificate` and a fake upload.
    /// Each is answered like a real one and stores nothing.
    Chaff {
        /// Server URL.
        #[arg(long)]
        server: String,
        /// The phone's health authority (for the fake verify request).
        #[arg(long)]
        authority: Option<String>,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Follow the home region and the regions visited (travellers): download and verify each
    /// region's new batches from its own server with its own export keys, match them against
    /// the phone's scans, and keep the per-region chain state in the phone's state file.
    Sync(super::phone_sync::Args),
    /// Scan a venue's entry code: check in (or out, if it is the open visit's code); the
    /// visit closes by itself after --duration (2 hours by default).
    Checkin(super::checkin::Args),
    /// Check out of the open visit: its hourly records are encrypted and stored.
    Checkout(super::checkout::Args),
    /// Show what the phone knows of its check-ins: the open visit, and the number of hourly
    /// records per day (never the venues of closed visits: the records name none).
    Venues(super::venues::Args),
    /// Match the stored check-ins against the venue trace batches `en-sim fetch` downloaded,
    /// and print each notification with its message and overlap.
    VenueNotifications(super::venue_notifications::Args),
}

impl Action {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            Action::Sync(a) => a.run()?,
            Action::Checkin(a) => a.run()?,
            Action::Checkout(a) => a.run()?,
            Action::Venues(a) => a.run()?,
            Action::VenueNotifications(a) => a.run()?,
            Action::Keys { days, out } => {
                let keys = phone::phone_keys(days, now(), &mut rand::rngs::OsRng);
                keyfile::write_keys(&out, &keys)?;
                println!("{} keys written to {}", keys.len(), out.display());
            }
            Action::Tekmac { keys, hmac_key_out } => {
                let keys = keyfile::read_keys(&keys)?;
                let mut hk = zeroize::Zeroizing::new([0u8; 32]);
                rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, hk.as_mut());
                keyfile::write_new(&hmac_key_out, b64.encode(hk.as_ref()).as_bytes(), true)?;
                println!(
                    "{}",
                    b64.encode(en_protocol::tekmac::tekmac(hk.as_ref(), &keys, true))
                );
            }
            Action::Upload {
                server,
                keys,
                code,
                authority,
                hmac_key,
                certificate,
                ca,
                visited,
            } => {
                let keys = keyfile::read_keys(&keys)?;
                let visited = visited
                    .iter()
                    .map(|r| {
                        en_protocol::wire::Region::new(r).map_err(|_| {
                            anyhow::anyhow!("--visited {r:?}: not a region (1-16 of A-Z 0-9 -)")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let client = Client::new(&server, ca.as_deref())?;
                let rt = super::runtime()?;
                let n = match (code, hmac_key, certificate) {
                    (Some(code), _, _) => {
                        let up = rt.block_on(verify::upload_with_code_visiting(
                            &client,
                            authority.as_deref(),
                            &code,
                            &keys,
                            &visited,
                            &mut rand::rngs::OsRng,
                        ))?;
                        println!("code verified ({})", up.verified.as_str());
                        up.accepted_keys
                    }
                    (None, Some(hk), Some(cert)) => {
                        let hk = super::read_text(&hk)?;
                        let cert = super::read_text(&cert)?;
                        rt.block_on(phone::upload_visiting(&client, &keys, &cert, &hk, &visited))?
                    }
                    _ => anyhow::bail!("give --code, or --certificate with --hmac-key"),
                };
                println!("accepted {n} keys");
            }
            Action::Chaff {
                server,
                authority,
                ca,
            } => {
                let client = Client::new(&server, ca.as_deref())?;
                let mut rng = rand::rngs::OsRng;
                super::runtime()?.block_on(async {
                    if let Some(a) = &authority {
                        verify::chaff_verify(&client, a, &mut rng).await?;
                    }
                    verify::chaff_certificate(&client, &mut rng).await?;
                    phone::chaff(&client, now(), &mut rng).await
                })?;
                println!("fake requests sent");
            }
        }
        Ok(())
    }
}
