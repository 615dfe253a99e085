//! `en-sim`: simulator, phone and authority clients, inspection tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use clap::{Parser, Subcommand, ValueEnum};
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::ReportType;
use en_protocol::IntervalNumber;
use en_sim::{authority, cli_util, fetch, now, transport::Client};

/// Exposure-notification clients and researcher tools.
#[derive(Parser)]
#[command(name = "en-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the rolling proximity identifiers of a TEK, one line per interval:
    /// `<ENIN> <RPI hex>`, followed by ` <AEM hex>` when --metadata is given.
    ///
    /// Byte-compatible with the Google/Apple Exposure Notification crypto spec v1.2; use it to
    /// check another implementation against this one.
    Rpis {
        /// The temporary exposure key, 32 hex characters.
        #[arg(long, value_parser = cli_util::tek)]
        tek: [u8; 16],
        /// ENIntervalNumber of the first line (10-minute intervals since the Unix epoch).
        #[arg(long)]
        interval: u32,
        /// Number of intervals to print.
        #[arg(long, default_value_t = 144, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// Bluetooth metadata to encrypt into the AEM, 8 hex characters (e.g. 40080000).
        #[arg(long, value_parser = cli_util::metadata)]
        metadata: Option<[u8; 4]>,
    },
    /// Health-authority tools: keys, case reports, verification certificates.
    Authority {
        #[command(subcommand)]
        action: AuthorityCmd,
    },
    /// Phone tools: make keys, compute the tekmac, upload with a certificate.
    Phone {
        #[command(subcommand)]
        action: PhoneCmd,
    },
    /// Download the index and every batch, verify each signature and the hash chain, and
    /// write the batches to DIR (continuing from batches already there).
    Fetch {
        /// Server URL, e.g. https://localhost:8443
        #[arg(long)]
        server: String,
        /// Directory for the batches.
        #[arg(long)]
        out: PathBuf,
        /// Extra CA certificate (PEM) to trust, e.g. en-data/tls/cert.pem.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Trusted export public key(s) in hex (repeat during a key rotation).
        #[arg(
            long = "public-key",
            env = "EN_EXPORT_PUBLIC_KEY",
            value_delimiter = ',',
            required = true
        )]
        public_key: Vec<String>,
    },
    /// Simulate a population of phones, people and an epidemic against a real server, and
    /// write report.json, daily.csv and plots (epidemic.svg, notifications.svg) to --out.
    Run {
        /// Fraction of people using the app (Kiên Giang reported 0.126 in May 2021).
        #[arg(long, default_value_t = 0.6)]
        adoption: f64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        sim: en_sim::sim::cli::SimArgs,
    },
    /// Run the simulation at several adoption levels and plot precision and recall against
    /// adoption (sweep.json, precision_recall.svg, one directory per level).
    Sweep {
        /// Adoption levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.6,1.0")]
        adoption: Vec<f64>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        sim: en_sim::sim::cli::SimArgs,
    },
    /// Measure the hot paths, each beside a reference measured in the same run: matching vs
    /// raw AES, batch building, HTTPS ingest vs ed25519 verification, downloads, wire size,
    /// and the simulator. See BENCHMARKS.md.
    Bench {
        /// Only these (comma-separated): matching, batch, ingest, download, wire, simulator.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Seconds per timed measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Keys in the batch-building measurement.
        #[arg(long, default_value_t = 1_000_000)]
        batch_keys: usize,
        /// Phones in the simulator measurement (100000 for the full target).
        #[arg(long, default_value_t = 20_000)]
        sim_phones: usize,
        /// Adoption in the simulator measurement.
        #[arg(long, default_value_t = 0.6)]
        sim_adoption: f64,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Verify one batch file and print it as JSON (keys, window, sequence, signer).
    Inspect {
        /// The batch file, or a GAEN export.zip (with --gaen-public-key).
        file: PathBuf,
        /// Trusted export public key(s) in hex (for our batches).
        #[arg(
            long = "public-key",
            env = "EN_EXPORT_PUBLIC_KEY",
            value_delimiter = ',',
            required_unless_present = "gaen_public_key"
        )]
        public_key: Vec<String>,
        /// PEM file with the ECDSA P-256 public key of a GAEN export.zip; its keys are printed
        /// in the form the matcher uses, so real published keys can be replayed through it.
        #[arg(long)]
        gaen_public_key: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Rt {
    Confirmed,
    Clinical,
    SelfReport,
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

#[derive(Subcommand)]
enum AuthorityCmd {
    /// Generate an authority signing key: writes the private key (hex, mode 0600) and prints
    /// the public key to register with `en-server authority add`.
    Keygen {
        /// Where to write the private key (never overwritten).
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
        /// The authority's private key file.
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
        /// The authority's private key file.
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
        /// Seconds the certificate stays valid.
        #[arg(long, default_value_t = 3600)]
        valid_for: u64,
        /// Where to write the certificate (base64).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PhoneCmd {
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
}

fn main() -> ExitCode {
    let cli: Cli = match en_server::cli::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Server and library logs (RUST_LOG=info for the in-process server's).
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => en_server::cli::fail(&e),
    }
}

fn trusted(keys: &[String]) -> anyhow::Result<ExportKeys> {
    let pks = keys
        .iter()
        .map(|k| {
            PublicKey::from_hex(k).map_err(|_| {
                anyhow::anyhow!("--public-key {k:?} is not a 64-hex-character ed25519 public key")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ExportKeys::new(pks))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn write_new(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path).with_context(|| {
        format!(
            "cannot create {} (existing files are never overwritten)",
            path.display()
        )
    })?;
    std::io::Write::write_all(&mut f, contents)?;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match cli.command {
        Command::Rpis {
            tek,
            interval,
            count,
            metadata,
        } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            en_sim::rpis::write_rpis(&mut out, tek, interval, count, metadata)?;
            std::io::Write::flush(&mut out)?;
        }
        Command::Authority {
            action: AuthorityCmd::Keygen { out },
        } => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            en_server::config::write_signing_key(&out, &key)?;
            println!("{}", key.public_key().to_hex());
        }
        Command::Authority {
            action:
                AuthorityCmd::Upload {
                    server,
                    authority,
                    key,
                    keys,
                    report_type,
                    onset,
                    region,
                    ca,
                },
        } => {
            let sk = authority::read_key(&key)?;
            let mut reports = Vec::with_capacity(keys.len());
            for file in &keys {
                let report = authority::case_report(
                    &authority,
                    &region,
                    &sk,
                    authority::read_keys(file)?,
                    report_type.into(),
                    onset.map(IntervalNumber),
                    now(),
                    &mut rand::rngs::OsRng,
                )?;
                reports.push(b64.encode(&report));
            }
            let client = Client::new(&server, ca.as_deref())?;
            if let [report] = reports.as_slice() {
                let body = en_server::api::CaseUpload {
                    report: report.clone(),
                    padding: None,
                };
                let r: en_server::api::UploadAccepted =
                    runtime()?.block_on(client.post_json("/v1/cases", &body))?;
                println!("accepted {} keys", r.accepted_keys);
            } else {
                let body = en_server::api::BulkCaseUpload { reports };
                let r: en_server::api::BulkAccepted =
                    runtime()?.block_on(client.post_json("/v1/cases/bulk", &body))?;
                println!(
                    "accepted {} reports, {} keys",
                    r.accepted_reports, r.accepted_keys
                );
            }
        }
        Command::Authority {
            action:
                AuthorityCmd::Certify {
                    authority,
                    key,
                    tekmac,
                    audience,
                    report_type,
                    onset,
                    valid_for,
                    out,
                },
        } => {
            let sk = authority::read_key(&key)?;
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
            write_new(&out, b64.encode(cert).as_bytes(), false)?;
            println!("certificate written to {}", out.display());
        }
        Command::Phone {
            action: PhoneCmd::Keys { days, out },
        } => {
            let keys = authority::phone_keys(days, now(), &mut rand::rngs::OsRng);
            let json: Vec<_> = keys.iter().map(authority::to_json).collect();
            write_new(&out, serde_json::to_string_pretty(&json)?.as_bytes(), true)?;
            println!("{} keys written to {}", keys.len(), out.display());
        }
        Command::Phone {
            action: PhoneCmd::Tekmac { keys, hmac_key_out },
        } => {
            let keys = authority::read_keys(&keys)?;
            let mut hk = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut hk);
            write_new(&hmac_key_out, b64.encode(hk).as_bytes(), true)?;
            println!(
                "{}",
                b64.encode(en_protocol::tekmac::tekmac(&hk, &keys, true))
            );
        }
        Command::Phone {
            action:
                PhoneCmd::Upload {
                    server,
                    keys,
                    hmac_key,
                    certificate,
                    ca,
                },
        } => {
            let keys = authority::read_keys(&keys)?;
            let hk = std::fs::read_to_string(&hmac_key)
                .with_context(|| format!("cannot read {}", hmac_key.display()))?;
            let cert = std::fs::read_to_string(&certificate)
                .with_context(|| format!("cannot read {}", certificate.display()))?;
            let body = en_server::api::PublishUpload {
                certificate: cert.trim().to_string(),
                hmac_key: hk.trim().to_string(),
                keys: keys.iter().map(authority::to_json).collect(),
                fake: false,
                padding: None,
            };
            let client = Client::new(&server, ca.as_deref())?;
            let r: en_server::api::UploadAccepted =
                runtime()?.block_on(client.post_json("/v1/publish", &body))?;
            println!("accepted {} keys", r.accepted_keys);
        }
        Command::Phone {
            action: PhoneCmd::Chaff { server, ca },
        } => {
            let keys = authority::phone_keys(14, now(), &mut rand::rngs::OsRng);
            let body = en_server::api::PublishUpload {
                certificate: b64.encode([0u8; 200]),
                hmac_key: b64.encode([0u8; 32]),
                keys: keys.iter().map(authority::to_json).collect(),
                fake: true,
                padding: None,
            };
            let client = Client::new(&server, ca.as_deref())?;
            let _: en_server::api::UploadAccepted =
                runtime()?.block_on(client.post_json("/v1/publish", &body))?;
            println!("fake upload sent");
        }
        Command::Fetch {
            server,
            out,
            ca,
            public_key,
        } => {
            let trusted = trusted(&public_key)?;
            let client = Client::new(&server, ca.as_deref())?;
            println!(
                "{}",
                runtime()?.block_on(fetch::fetch_to_dir(&client, &trusted, &out))?
            );
        }
        Command::Run { adoption, out, sim } => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&adoption),
                "--adoption must be between 0 and 1"
            );
            runtime()?.block_on(en_sim::sim::cli::run_cmd(sim, adoption, &out))?;
        }
        Command::Sweep { adoption, out, sim } => {
            anyhow::ensure!(
                adoption.iter().all(|a| (0.0..=1.0).contains(a)),
                "--adoption values must be between 0 and 1"
            );
            runtime()?.block_on(en_sim::sim::cli::sweep_cmd(sim, &adoption, &out))?;
        }
        Command::Bench {
            only,
            seconds,
            batch_keys,
            sim_phones,
            sim_adoption,
            json,
        } => {
            use en_sim::bench;
            let want = |k: &str| only.is_empty() || only.iter().any(|o| o == k);
            let d = std::time::Duration::from_secs_f64(seconds.max(0.5));
            let mut r = bench::BenchReport::default();
            let step = |name: &str| eprintln!("measuring {name}…");
            if want("matching") {
                step("matching");
                r.matching = Some(bench::matching(d));
            }
            if want("batch") {
                step("batch building");
                r.batch = Some(bench::batch_building(batch_keys)?);
            }
            if want("ingest") {
                step("ingest");
                r.ingest = Some(bench::ingest(seconds, 100)?);
            }
            if want("download") {
                step("download");
                r.download = Some(bench::download(seconds, 16)?);
            }
            if want("wire") {
                step("wire size");
                r.wire = Some(bench::wire_size(10_000)?);
            }
            if want("simulator") {
                step("simulator");
                r.simulator = Some(bench::simulator(sim_phones, 21, sim_adoption)?);
            }
            print!("{}", r.table());
            if let Some(j) = json {
                std::fs::write(&j, serde_json::to_string_pretty(&r)? + "\n")?;
            }
        }
        Command::Inspect {
            file,
            public_key,
            gaen_public_key,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = match gaen_public_key {
                Some(pem) => {
                    let pem = std::fs::read_to_string(&pem)
                        .with_context(|| format!("cannot read {}", pem.display()))?;
                    fetch::inspect_gaen_zip(&bytes, &pem)?
                }
                None => fetch::inspect_batch(&bytes, &trusted(&public_key)?)?,
            };
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}
