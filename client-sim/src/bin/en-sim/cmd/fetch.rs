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
    /// The region whose batches to follow.
    #[arg(long, default_value = "VN")]
    region: String,
    /// If the chain has a gap this phone cannot bridge (its last verified batch is no longer
    /// listed, or was withheld), start again from the oldest batch listed, trusting it as on
    /// first use. Without it, a gap is an error: the phone never forgets what it verified.
    #[arg(long)]
    resync: bool,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let trusted = super::trusted(&self.public_key)?;
        let region = en_protocol::wire::Region::new(&self.region)
            .map_err(|_| anyhow::anyhow!("--region must be 1-16 of A-Z 0-9 -"))?;
        let client = Client::new(&self.server, self.ca.as_deref())?;
        let msg = super::runtime()?.block_on(en_client::fetch::fetch_to_dir(
            &client,
            trusted,
            region,
            &self.out,
            en_client::now(),
            self.resync,
        ))?;
        println!("{msg}");
        Ok(())
    }
}
