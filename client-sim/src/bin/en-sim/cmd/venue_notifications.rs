//! `en-sim phone venue-notifications`: matches the phone's check-in records against the
//! venue trace batches `en-sim fetch` downloaded, and shows what a phone would notify.

use std::path::PathBuf;

use en_client::venue::{read_trace_batches, VenuePhone};

use crate::args;

/// Arguments of `en-sim phone venue-notifications`.
#[derive(clap::Args)]
pub struct Args {
    /// The phone's venue state file.
    #[arg(long)]
    state: PathBuf,
    /// The directory `en-sim fetch` wrote (its trace-batch-*.bin files are verified again).
    #[arg(long)]
    batches: PathBuf,
    /// Trusted export public key(s) in hex.
    #[arg(
        long = "public-key",
        env = "EN_EXPORT_PUBLIC_KEY",
        value_delimiter = ',',
        required = true
    )]
    public_key: Vec<String>,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let trusted = super::trusted(&self.public_key)?;
        let phone = VenuePhone::load(&self.state)?;
        let batches = read_trace_batches(&self.batches, &trusted)?;
        let found = phone.match_batches(&batches);
        if found.is_empty() {
            let entries: usize = batches.iter().map(|b| b.entries().len()).sum();
            println!(
                "no venue notification ({} trace batch(es), {entries} venue-hours checked)",
                batches.len()
            );
            return Ok(());
        }
        for n in &found {
            println!(
                "VENUE NOTIFICATION: a venue you visited was traced for {} to {}; your visit {} to {} overlapped it by {} min",
                args::fmt_time(n.hour.start()),
                args::fmt_time(n.hour.end()),
                args::fmt_time(n.arrival),
                args::fmt_time(n.departure),
                n.overlap_seconds.div_ceil(60)
            );
            match &n.message {
                Some(m) => println!("  message: {m}"),
                None => println!("  (the authority's message could not be read)"),
            }
        }
        Ok(())
    }
}
