//! `en-sim phone checkout`: the visitor checks out by hand.

use std::path::PathBuf;

use en_client::venue::VenuePhone;
use en_protocol::UnixTime;

use crate::args;

/// Arguments of `en-sim phone checkout`.
#[derive(clap::Args)]
pub struct Args {
    /// The phone's venue state file.
    #[arg(long)]
    state: PathBuf,
    /// When (Unix seconds or 2026-01-01T10:20:00Z); a visit past its automatic check-out
    /// closed at that time instead.
    #[arg(long, value_parser = args::time, default_value = "now")]
    at: UnixTime,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let mut phone = VenuePhone::load(&self.state)?;
        let closed = phone.check_out(self.at, &mut rand::rngs::OsRng);
        phone.save(&self.state)?;
        match closed {
            Some(n) => println!("checked out: {n} hourly record(s) stored"),
            None => println!("no open visit"),
        }
        Ok(())
    }
}
