//! `en-sim fetch`: download and verify the index and new batches into a directory.

use std::path::PathBuf;

use en_client::transport::Client;

/// Arguments of `en-sim fetch`.
#[derive(clap::Args)]
pub struct Args {
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
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let trusted = super::trusted(&self.public_key)?;
        let client = Client::new(&self.server, self.ca.as_deref())?;
        let msg = super::runtime()?
            .block_on(en_client::fetch::fetch_to_dir(&client, &trusted, &self.out))?;
        println!("{msg}");
        Ok(())
    }
}
