//! `en-sim`: the phone and authority clients, the simulator, benchmarks and inspection tools.
//!
//! One module per command under `cmd/`; the benchmarks under `bench/`. Errors end here as one
//! line on stderr and exit status 1 (a malformed command line: exit status 2).

mod args;
mod bench;
mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Rpis(cmd::rpis::Args),
    /// Health-authority tools: keys, case reports, verification certificates.
    Authority {
        #[command(subcommand)]
        action: cmd::authority::Action,
    },
    /// Phone tools: make keys, compute the tekmac, upload with a certificate.
    Phone {
        #[command(subcommand)]
        action: cmd::phone::Action,
    },
    /// Venue owner tools: create a venue (QR code, poster, tracing secret), trace requests.
    Venue {
        #[command(subcommand)]
        action: cmd::venue::Action,
    },
    /// Download the index and every batch of both chains (keys, venue traces), verify each
    /// signature and the hash chains, and write the batches to DIR (continuing from batches
    /// already there).
    Fetch(cmd::fetch::Args),
    /// Simulate a population of phones, people and an epidemic against a real server, each
    /// run paired with its counterfactual (the app off). One run writes report.json,
    /// daily.csv and plots to --out; a scenario (--config) or --seeds N writes summary.json,
    /// summary.md and plots with 95 % bands.
    Run(cmd::run::RunArgs),
    /// Run a scenario at several adoption levels and plot infections averted, precision and
    /// recall against adoption, with 95 % bands over --seeds.
    Sweep(cmd::run::SweepArgs),
    /// Two regions with travel between them: recall of travellers' contacts with phones
    /// following home only, following the regions visited, federated servers, and both, over
    /// a range of traveller fractions (travel.svg, travel.md, travel.json in --out).
    Travel(cmd::travel::Args),
    /// Measure the hot paths, each beside a reference measured in the same run: matching vs
    /// raw AES, batch building, HTTPS ingest vs ed25519 verification, downloads, wire size,
    /// and the simulator. See BENCHMARKS.md.
    Bench(bench::Args),
    /// Verify one batch file and print it as JSON (keys, window, sequence, signer).
    Inspect(cmd::inspect::Args),
}

fn main() -> ExitCode {
    let cli: Cli = match en_api::cli::parse() {
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
    let r = match cli.command {
        Command::Rpis(a) => cmd::rpis::run(a),
        Command::Authority { action } => action.run(),
        Command::Phone { action } => action.run(),
        Command::Venue { action } => action.run(),
        Command::Fetch(a) => a.run(),
        Command::Run(a) => a.run(),
        Command::Sweep(a) => a.run(),
        Command::Travel(a) => a.run(),
        Command::Bench(a) => a.run(),
        Command::Inspect(a) => a.run(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => en_api::cli::fail(e.as_ref()),
    }
}
