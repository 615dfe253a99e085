//! `en-sim authority sealing-keygen`: the health authority's X25519 sealing key, which venue
//! owners seal the authority's share of each venue's key to.

use std::path::PathBuf;

use en_api::venue_files;
use en_protocol::venue::SealingSecretKey;

/// Arguments of `en-sim authority sealing-keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to write the secret sealing key (mode 0600, never overwritten); the public key
    /// goes to OUT.pub.
    #[arg(long)]
    out: PathBuf,
}

impl Args {
    /// Runs the command: writes both files, prints the public key.
    pub fn run(self) -> anyhow::Result<()> {
        let key = SealingSecretKey::generate(&mut rand::rngs::OsRng);
        venue_files::write_sealing_key(&self.out, &key)?;
        let mut public = self.out.into_os_string();
        public.push(".pub");
        venue_files::write_sealing_public_key(std::path::Path::new(&public), &key.public_key())?;
        println!("{}", en_protocol::hex::encode(&key.public_key().to_bytes()));
        Ok(())
    }
}
