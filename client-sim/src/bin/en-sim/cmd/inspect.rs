//! `en-sim inspect`: verify a batch file (or a GAEN export.zip) and print it as JSON.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `en-sim inspect`.
#[derive(clap::Args)]
pub struct Args {
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
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let v = match self.gaen_public_key {
            Some(pem) => {
                let pem = super::read_text(&pem)?;
                en_client::inspect::inspect_gaen_zip(&bytes, &pem)?
            }
            None => en_client::inspect::inspect_batch(&bytes, &super::trusted(&self.public_key)?)?,
        };
        super::print(&serde_json::to_string_pretty(&v)?)
    }
}
