//! `en-sim`: simulator, phone and authority clients, inspection tools.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use en_sim::cli_util;

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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
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
            Ok(())
        }
    }
}
