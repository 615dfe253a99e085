//! `en-sim authority trace`: the health authority traces a venue with its owner's help: the
//! owner's trace request is opened with the sealing key (every key pairing-checked), the
//! message to visitors is added, and the signed trace report is uploaded.

use std::path::PathBuf;

use anyhow::Context;
use en_api::{keyfile, venue_files};
use en_client::transport::Client;
use en_client::{now, trace};
use en_protocol::venue::TraceRequest;
use en_protocol::UnixTime;

use crate::args;

/// Largest trace request file (336 hours of a 335-byte payload take 17,902 bytes).
const MAX_REQUEST_FILE: u64 = 64 * 1024;

/// Arguments of `en-sim authority trace`.
#[derive(clap::Args)]
pub struct Args {
    /// The venue's tracing secret: the trace request is computed from it here, which stands
    /// for the owner computing it and handing it over (the secret never reaches a real
    /// authority; see `en-sim venue trace-request` and --request).
    #[arg(long, requires_all = ["from", "to"], conflicts_with = "request")]
    tracing_secret: Option<PathBuf>,
    /// With --tracing-secret: start of the span to trace (Unix seconds or
    /// 2026-01-01T09:00:00Z); every hour the span overlaps is traced.
    #[arg(long, value_parser = args::time, requires = "tracing_secret")]
    from: Option<UnixTime>,
    /// With --tracing-secret: end of the span (exclusive).
    #[arg(long, value_parser = args::time, requires = "tracing_secret")]
    to: Option<UnixTime>,
    /// The owner's trace request (from `en-sim venue trace-request`), instead of
    /// --tracing-secret.
    #[arg(long, required_unless_present = "tracing_secret")]
    request: Option<PathBuf>,
    /// What visitors' phones show (at most 254 bytes): what to do, whom to call.
    #[arg(long)]
    message: String,
    /// The authority's sealing key (from `en-sim authority sealing-keygen`).
    #[arg(long)]
    sealing_key: PathBuf,
    /// This authority's id as registered on the server.
    #[arg(long)]
    authority: String,
    /// The authority's signing key file.
    #[arg(long)]
    key: PathBuf,
    /// Region of the trace.
    #[arg(long, default_value = "VN")]
    region: String,
    /// Server URL.
    #[arg(long)]
    server: String,
    /// Extra CA certificate (PEM) to trust.
    #[arg(long)]
    ca: Option<PathBuf>,
}

fn read_request(path: &std::path::Path) -> anyhow::Result<TraceRequest> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_REQUEST_FILE + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    TraceRequest::decode(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a trace request: {e}", path.display()))
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let request = match (&self.tracing_secret, self.from, self.to, &self.request) {
            (Some(secret), Some(from), Some(to), None) => {
                let secret = venue_files::read_tracing_secret(secret)?;
                trace::trace_request(&secret, from, to)?
            }
            (None, None, None, Some(path)) => read_request(path)?,
            _ => anyhow::bail!("give --request, or --tracing-secret with --from and --to"),
        };
        let sealing = venue_files::read_sealing_key(&self.sealing_key)?;
        let key = keyfile::read_signing_key(&self.key)?;
        let signed = trace::trace_report(
            &request,
            &sealing,
            &self.message,
            &self.authority,
            &self.region,
            &key,
            now(),
            &mut rand::rngs::OsRng,
        )?;
        let client = Client::new(&self.server, self.ca.as_deref())?;
        let n = super::runtime()?.block_on(trace::upload(&client, &signed.report))?;
        let (first, last) = (signed.hours[0], signed.hours[signed.hours.len() - 1]);
        println!(
            "traced \"{}\" for {n} hour(s), {} to {}: stored; phones see it after the next batch",
            signed.venue,
            args::fmt_time(first.start()),
            args::fmt_time(last.end()),
        );
        Ok(())
    }
}
