//! `en-sim venue trace-request`: the owner's side of a trace, for the hours the health
//! authority asks for.

use std::path::PathBuf;

use en_api::keyfile::write_new;
use en_api::venue_files;
use en_protocol::UnixTime;

use crate::args;

/// Arguments of `en-sim venue trace-request`.
#[derive(clap::Args)]
pub struct Args {
    /// The venue's tracing secret (from `en-sim venue create`).
    #[arg(long)]
    tracing_secret: PathBuf,
    /// Start of the span to trace (Unix seconds or 2026-01-01T09:00:00Z); every hour the
    /// span overlaps is traced.
    #[arg(long, value_parser = args::time)]
    from: UnixTime,
    /// End of the span (exclusive).
    #[arg(long, value_parser = args::time)]
    to: UnixTime,
    /// Where to write the request (mode 0600; it is half of a trace, for the authority only).
    #[arg(long)]
    out: PathBuf,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let secret = venue_files::read_tracing_secret(&self.tracing_secret)?;
        let request = en_client::trace::trace_request(&secret, self.from, self.to)?;
        write_new(&self.out, &request.encode(), true)?;
        let hours: Vec<_> = request.hours().collect();
        println!(
            "trace request for \"{}\", {} hour(s) from {} to {}, written to {}: give it to the health authority",
            secret.payload().description(),
            hours.len(),
            args::fmt_time(hours[0].start()),
            args::fmt_time(hours[hours.len() - 1].end()),
            self.out.display()
        );
        Ok(())
    }
}
