//! `en-sim rpis`: prints the RPIs (and AEMs) of a TEK, for checking other implementations.

use std::io::Write;

use en_protocol::derive::KeySchedule;
use en_protocol::hex;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::time::IntervalNumber;

use crate::args;

/// Arguments of `en-sim rpis`.
#[derive(clap::Args)]
pub struct Args {
    /// The temporary exposure key, 32 hex characters.
    #[arg(long, value_parser = args::tek)]
    tek: [u8; 16],
    /// ENIntervalNumber of the first line (10-minute intervals since the Unix epoch).
    #[arg(long)]
    interval: u32,
    /// Number of intervals to print.
    #[arg(long, default_value_t = 144, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Bluetooth metadata to encrypt into the AEM, 8 hex characters (e.g. 40080000).
    #[arg(long, value_parser = args::metadata)]
    metadata: Option<[u8; 4]>,
}

/// Runs the command: the lines go to stdout.
pub fn run(a: Args) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let r = write_rpis(&mut out, a.tek, a.interval, a.count, a.metadata)
        .and_then(|()| Ok(out.flush()?));
    match r {
        // `en-sim rpis … | head`: the reader went away; that is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        r => r,
    }
}

/// Writes one line per interval: `<ENIN> <RPI hex>[ <AEM hex>]`.
pub fn write_rpis(
    out: &mut impl Write,
    tek: [u8; 16],
    first: u32,
    count: u32,
    metadata: Option<[u8; 4]>,
) -> anyhow::Result<()> {
    if u64::from(first) + u64::from(count) > u64::from(u32::MAX) + 1 {
        anyhow::bail!("--interval + --count runs past the last ENIntervalNumber (4294967295)");
    }
    let ks = KeySchedule::new(&TemporaryExposureKey::from_bytes(tek));
    // Derive in chunks so a huge --count does not hold everything in memory.
    let mut done = 0u32;
    while done < count {
        let n = (count - done).min(4096);
        let start = first + done;
        for (j, rpi) in ks.rpis(IntervalNumber(start), n).iter().enumerate() {
            let enin = start + j as u32;
            match metadata {
                Some(m) => writeln!(
                    out,
                    "{enin} {} {}",
                    hex::encode(rpi),
                    hex::encode(&ks.aem(rpi, &m))
                )?,
                None => writeln!(out, "{enin} {}", hex::encode(rpi))?,
            }
        }
        done += n;
    }
    Ok(())
}
