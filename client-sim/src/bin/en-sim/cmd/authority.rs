//! `en-sim authority …`: a health authority's key, case reports and certificates, and its
//! venue sealing key and traces (one module per venue command).

use std::path::PathBuf;

use base64::Engine;
use clap::{Subcommand, ValueEnum};
use en_api::keyfile;
use en_client::transport::Client;
use en_client::{authority, now};
use en_protocol::keys::SigningKey;
use en_protocol::wire::ReportType;
use en_protocol::IntervalNumber;

/// How a case was established (`--report-type`).
#[derive(Clone, Copy, ValueEnum)]
pub enum Rt {
    /// A positive laboratory test.
    Confirmed,
    /// A clinician's diagnosis.
    Clinical,
    /// Self-reported.
    SelfReport,
    /// Withdraws earlier keys.
    Revoked,
}

impl From<Rt> for ReportType {
    fn from(r: Rt) -> Self {
        match r {
            Rt::Confirmed => ReportType::ConfirmedTest,
            Rt::Clinical => ReportType::ConfirmedClinicalDiagnosis,
            Rt::SelfReport => ReportType::SelfReport,
            Rt::Revoked => ReportType::Revoked,
        }
    }
}

/// The authority subcommands.
#[derive(Subcommand)]
pub enum Action {
    /// Generate an authority signing key: writes the secret key file (mode 0600) and OUT.pub,
    /// and prints the public key to register with `en-server authority add`.
    Keygen {
        /// Where to write the secret key (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a case report for a patient's keys and upload it; with several --keys files, sign
    /// one report per file and upload them in one bulk request (stored all together or not at
    /// all; a refusal names the file's position, counting from 0).
    ///
    /// KEYS.json is a JSON array of objects
    /// {"key": "<16 bytes, base64>", "rolling_start": <ENIN>, "rolling_period": 1..144,
    /// "transmission_risk": 0..8}, as written by `en-sim phone keys`.
    Upload {
        /// Server URL.
        #[arg(long)]
        server: String,
        /// This authority's id as registered on the server.
        #[arg(long)]
        authority: String,
        /// The authority's secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The patient's keys (see above); repeat for several patients.
        #[arg(long, required = true)]
        keys: Vec<PathBuf>,
        /// How the case was established.
        #[arg(long, value_enum, default_value = "confirmed")]
        report_type: Rt,
        /// ENIntervalNumber of symptom onset, if known.
        #[arg(long)]
        onset: Option<u32>,
        /// Region of the case.
        #[arg(long, default_value = "VN")]
        region: String,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Issue a verification certificate for the tekmac a patient's phone shows
    /// (`en-sim phone tekmac`); writes it base64-encoded.
    Certify {
        /// This authority's id.
        #[arg(long)]
        authority: String,
        /// The authority's secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The phone's tekmac, base64.
        #[arg(long)]
        tekmac: String,
        /// The server's audience (its config's `audience`).
        #[arg(long, default_value = "en-server:VN")]
        audience: String,
        /// How the case was established.
        #[arg(long, value_enum, default_value = "confirmed")]
        report_type: Rt,
        /// ENIntervalNumber of symptom onset, if known.
        #[arg(long)]
        onset: Option<u32>,
        /// Seconds the certificate stays valid (servers refuse more than their cap, 24 h by
        /// default).
        #[arg(long, default_value_t = 3600)]
        valid_for: u64,
        /// Where to write the certificate (base64).
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate the authority's venue sealing key (X25519): writes the secret key file (mode
    /// 0600) and OUT.pub, and prints the public key venue owners seal to
    /// (`en-sim venue create --authority-key`).
    SealingKeygen(super::sealing_keygen::Args),
    /// Trace a venue with its owner's cooperation: open the owner's trace request with the
    /// sealing key (every key pairing-checked), add the message visitors will read, sign and
    /// upload (POST /v1/traces).
    ///
    /// The owner computes the request from the venue's tracing secret and hands it over
    /// (`en-sim venue trace-request`, then --request); --tracing-secret with --from and --to
    /// computes it here instead, standing for that hand-over.
    Trace(super::trace::Args),
}

impl Action {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            Action::SealingKeygen(a) => a.run()?,
            Action::Trace(a) => a.run()?,
            Action::Keygen { out } => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                keyfile::write_signing_key(&out, &key)?;
                let mut pub_path = out.into_os_string();
                pub_path.push(".pub");
                keyfile::write_public_key(std::path::Path::new(&pub_path), &key.public_key())?;
                println!("{}", key.public_key().to_hex());
            }
            Action::Upload {
                server,
                authority,
                key,
                keys,
                report_type,
                onset,
                region,
                ca,
            } => {
                let sk = keyfile::read_signing_key(&key)?;
                let mut reports = Vec::with_capacity(keys.len());
                for file in &keys {
                    reports.push(authority::case_report(
                        &authority,
                        &region,
                        &sk,
                        keyfile::read_keys(file)?,
                        report_type.into(),
                        onset.map(IntervalNumber),
                        now(),
                        &mut rand::rngs::OsRng,
                    )?);
                }
                let client = Client::new(&server, ca.as_deref())?;
                let stored = super::runtime()?.block_on(authority::upload(&client, &reports))?;
                if stored.reports == 1 {
                    println!("accepted {} keys", stored.keys);
                } else {
                    println!("accepted {} reports, {} keys", stored.reports, stored.keys);
                }
            }
            Action::Certify {
                authority,
                key,
                tekmac,
                audience,
                report_type,
                onset,
                valid_for,
                out,
            } => {
                let sk = keyfile::read_signing_key(&key)?;
                let mac: [u8; 32] = b64
                    .decode(tekmac.trim())
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| anyhow::anyhow!("--tekmac must be 32 bytes of base64"))?;
                let cert = authority::certify(
                    &authority,
                    &sk,
                    mac,
                    &audience,
                    report_type.into(),
                    onset.map(IntervalNumber),
                    now(),
                    valid_for,
                    &mut rand::rngs::OsRng,
                )?;
                keyfile::write_new(&out, b64.encode(cert).as_bytes(), false)?;
                println!("certificate written to {}", out.display());
            }
        }
        Ok(())
    }
}
