//! `en-sim venue …`: a venue owner's tools (one module per command), and what they share:
//! the QR code and the poster.

pub mod create;
pub mod poster;
pub mod qr;
pub mod trace_request;

use clap::Subcommand;

/// The venue owner's subcommands.
#[derive(Subcommand)]
pub enum Action {
    /// Create a venue, offline: writes the entry payload and its URL, the entry QR code (SVG,
    /// PNG), a printable A4 poster (SVG) and the owner's tracing secret (mode 0600) to --out.
    ///
    /// The health authority's share of the venue's key is sealed to its sealing public key
    /// and forgotten: neither the owner nor the authority alone can ever trace the venue.
    Create(create::Args),
    /// Compute the trace request the health authority asks for: the venue's partial keys for
    /// the hours from --from to --to (the tracing secret itself never leaves the owner).
    TraceRequest(trace_request::Args),
}

impl Action {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Action::Create(a) => a.run(),
            Action::TraceRequest(a) => a.run(),
        }
    }
}
