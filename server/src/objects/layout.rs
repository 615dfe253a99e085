//! Object names, and opening the configured object store.
//!
//! Names are the API's paths without the leading `/`, so that the store can be the origin of
//! a CDN or the root of a web server: `GET {base}/v1/batches/7` is the object `v1/batches/7`.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;

use super::durable_dir::DurableDir;
use super::{Objects, KEYS, TRACES};
use crate::config::{ObjectsSetting, Resolved};
use crate::datadir::DataDir;
use crate::error::Error;

/// The risk configuration.
pub const CONFIG_NAME: &str = "v1/config";

/// Where an object of an earlier en-server's flat directory (`batch-{seq:020}.bin`,
/// `index.bin`, `config.bin`, and the venue trace chain's `trace-…` files) now lives.
fn moved_name(flat: &str) -> Option<String> {
    if flat == "config.bin" {
        return Some(CONFIG_NAME.to_string());
    }
    for chain in [KEYS, TRACES] {
        let (index, prefix) = chain.flat;
        if flat == index {
            return Some(chain.index.to_string());
        }
        if let Some(seq) = flat
            .strip_prefix(prefix)
            .and_then(|s| s.strip_suffix(".bin"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            return Some(format!("{}{seq}", chain.batch_prefix));
        }
    }
    None
}

/// Moves objects written by an earlier en-server to their names, so that an existing data
/// directory keeps its chains.
fn migrate_flat_names(dir: &FsPath) -> std::io::Result<()> {
    let mut moved = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(to) = moved_name(&name) else {
            continue;
        };
        let to = dir.join(to);
        let parent = to.parent().expect("a parent").to_path_buf();
        std::fs::create_dir_all(&parent)?;
        std::fs::rename(e.path(), &to)?;
        moved.push(parent);
    }
    if !moved.is_empty() {
        moved.sort();
        moved.dedup();
        for d in moved.iter().chain([&dir.join("v1"), &dir.to_path_buf()]) {
            std::fs::File::open(d)?.sync_all()?;
        }
    }
    Ok(())
}

/// A directory as an object store; `private`: create it mode 0700 (the data directory's
/// `objects/`), else with the default mode (a directory a web server serves).
pub(super) fn open_dir(dir: &FsPath, private: bool) -> std::io::Result<Arc<dyn ObjectStore>> {
    if private {
        crate::datadir::create_private_dir(dir)?;
    } else {
        std::fs::create_dir_all(dir)?;
    }
    migrate_flat_names(dir)?;
    let store = DurableDir::new(dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Arc::new(store))
}

fn read_secret(path: &FsPath) -> Result<zeroize::Zeroizing<String>, Error> {
    crate::datadir::check_private(path, 0o600)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?,
    );
    Ok(zeroize::Zeroizing::new(
        text.lines().next().unwrap_or("").trim().to_string(),
    ))
}

/// Opens the object store `cfg` names (the data directory's `objects/` by default).
pub async fn open_store(cfg: &Resolved) -> Result<Objects, Error> {
    let limits = &cfg.config.limits;
    let dir = |d: PathBuf, private: bool| -> Result<Objects, Error> {
        let store = open_dir(&d, private).map_err(|e| Error::io("open", &d, e))?;
        Ok(Objects::with_store(store, d, false, limits))
    };
    let o = match &cfg.config.objects {
        ObjectsSetting::Local => dir(DataDir::new(&cfg.data_dir).objects(), true)?,
        ObjectsSetting::Dir(d) => dir(cfg.path(&d.dir), false)?,
        ObjectsSetting::S3(s) => {
            let bad = |message: String| Error::Config {
                file: DataDir::new(&cfg.data_dir).config_file(),
                message,
            };
            let (bucket, prefix) = s.bucket_and_prefix().map_err(bad)?;
            // reqwest (inside object_store) takes the process's rustls provider: ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(s.allow_http);
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(r) = &s.region {
                b = b.with_region(r);
            }
            if let Some(k) = &s.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(f) = &s.secret_access_key_file {
                b = b.with_secret_access_key(read_secret(&cfg.path(f))?.as_str());
            }
            // Errors name the bucket, never a credential.
            let store: Arc<dyn ObjectStore> =
                Arc::new(b.build().map_err(|e| bad(format!("objects.s3: {e}")))?);
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                store
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            Objects::with_store(store, PathBuf::from(&s.s3), true, limits)
        }
    };
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_of_an_earlier_layout_keep_their_chain() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("index.bin"), b"i").unwrap();
        std::fs::write(d.path().join("config.bin"), b"c").unwrap();
        std::fs::write(d.path().join(format!("batch-{:020}.bin", 12)), b"b").unwrap();
        open_dir(d.path(), true).unwrap();
        assert_eq!(std::fs::read(d.path().join("v1/index")).unwrap(), b"i");
        assert_eq!(std::fs::read(d.path().join("v1/config")).unwrap(), b"c");
        assert_eq!(std::fs::read(d.path().join("v1/batches/12")).unwrap(), b"b");
        assert!(!d.path().join("index.bin").exists());
        std::fs::write(d.path().join("trace-index.bin"), b"t").unwrap();
        std::fs::write(d.path().join(format!("trace-batch-{:020}.bin", 3)), b"tb").unwrap();
        open_dir(d.path(), true).unwrap();
        assert_eq!(
            std::fs::read(d.path().join("v1/traces/index")).unwrap(),
            b"t"
        );
        assert_eq!(
            std::fs::read(d.path().join("v1/traces/batches/3")).unwrap(),
            b"tb"
        );
    }
}
