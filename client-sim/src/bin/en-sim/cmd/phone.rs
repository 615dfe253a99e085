//! `en-sim phone …`: a phone's keys, tekmac and uploads, and its venue check-ins (one module
//! per venue command).

use std::path::PathBuf;

use base64::Engine;
use clap::Subcommand;
use en_api::keyfile;
use en_client::transport::Client;
use en_client::{now, phone};

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
    /// Upload KEYS.json with the authority's certificate and the HMAC key.
    Upload {
        /// Server URL.
        #[arg(long)]
        server: String,
        /// The keys.
        #[arg(long)]
        keys: PathBuf,
        /// The HMAC key file from `en-sim phone tekmac`.
        #[arg(long)]
        hmac_key: PathBuf,
        /// The certificate file from `en-sim authority certify`.
        #[arg(long)]
        certificate: PathBuf,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Send a fake (chaff) upload: answered like a real one, stores nothing.
    Chaff {
        /// Server URL.
        #[arg(long)]
        server: String,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
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
                hmac_key,
                certificate,
                ca,
            } => {
                let keys = keyfile::read_keys(&keys)?;
                let hk = super::read_text(&hmac_key)?;
                let cert = super::read_text(&certificate)?;
                let client = Client::new(&server, ca.as_deref())?;
                let n = super::runtime()?.block_on(phone::upload(&client, &keys, &cert, &hk))?;
                println!("accepted {n} keys");
            }
            Action::Chaff { server, ca } => {
                let client = Client::new(&server, ca.as_deref())?;
                super::runtime()?.block_on(phone::chaff(&client, now(), &mut rand::rngs::OsRng))?;
                println!("fake upload sent");
            }
        }
        Ok(())
    }
}
