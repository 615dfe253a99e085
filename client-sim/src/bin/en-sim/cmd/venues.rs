//! `en-sim phone venues`: what the phone can show its owner about check-ins: the open visit
//! (its venue is on the phone until check-out), and how many hourly records each day holds.
//! Closed visits show no venue: their records name none.

use std::path::PathBuf;

use en_client::venue::VenuePhone;
use en_protocol::UnixTime;

use crate::args;

/// Arguments of `en-sim phone venues`.
#[derive(clap::Args)]
pub struct Args {
    /// The phone's venue state file.
    #[arg(long)]
    state: PathBuf,
    /// The phone's time: a visit past its automatic check-out is closed and records older
    /// than 14 days are deleted, as the phone's timer would have done.
    #[arg(long, value_parser = args::time, default_value = "now")]
    at: UnixTime,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let mut phone = VenuePhone::load(&self.state)?;
        phone.tick(self.at, &mut rand::rngs::OsRng);
        phone.save(&self.state)?;
        let s = phone.summary();
        match &s.open {
            Some(v) => println!(
                "checked in at \"{}\" since {} (automatic check-out at {})",
                v.venue,
                args::fmt_time(v.arrival),
                args::fmt_time(v.checkout_at)
            ),
            None => println!("not checked in"),
        }
        if s.records_per_day.is_empty() {
            println!("no check-in records");
            return Ok(());
        }
        println!("check-in records (one per hour at a venue; they name no venue, kept 14 days):");
        for (day, n) in &s.records_per_day {
            println!("  {}  {n}", args::fmt_day(*day));
        }
        Ok(())
    }
}
