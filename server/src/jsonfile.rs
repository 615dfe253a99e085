//! Small JSON files in the data directory that the CLI edits while the server runs (sled
//! allows one process per database): the authority registry and the console's accounts.
//!
//! - Edits are serialized by an exclusive lock on a lock file beside the file (so a concurrent
//!   edit cannot undo another), and written to a uniquely named temporary file that is fsync'd
//!   and renamed over the file: readers see the old file or the new one, never a mix.
//! - The server re-reads a file when its [`stamp`] changes (one `stat`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;

/// Modification time, length and inode: changes whenever the file is replaced.
pub type FileStamp = Option<(std::time::SystemTime, u64, u64)>;

/// The stamp of `path` (`None` if it does not exist).
pub fn stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Reads the file (an absent file is `T::default()`); `invalid` builds the error for a file
/// that does not parse.
pub fn read<T: DeserializeOwned + Default>(
    path: &Path,
    invalid: impl FnOnce(String) -> Error,
) -> Result<T, Error> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| invalid(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Atomically replaces the file (unique temporary file 0600, fsync, rename, fsync of the
/// directory). Callers hold the edit lock.
fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let dir = dir_of(path);
    let text = serde_json::to_vec_pretty(value).expect("the file serializes");
    let name = path.file_name().map_or_else(
        || ".file.".to_string(),
        |n| format!(".{}.", n.to_string_lossy()),
    );
    let mut tmp = tempfile::Builder::new()
        .prefix(&name)
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    tmp.write_all(&text)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", &dir, e))
}

/// Runs `edit` on the file's content under the exclusive lock `lock_name` (in the same
/// directory, mode 0600) and writes the result; returns what `edit` returned.
pub fn edit<T, R>(
    path: &Path,
    lock_name: &str,
    invalid: impl FnOnce(String) -> Error,
    edit: impl FnOnce(&mut T) -> Result<R, Error>,
) -> Result<R, Error>
where
    T: Serialize + DeserializeOwned + Default,
{
    let lock_path = dir_of(path).join(lock_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let lock = opts
        .open(&lock_path)
        .map_err(|e| Error::io("open", &lock_path, e))?;
    lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
    let mut value: T = read(path, invalid)?;
    let r = edit(&mut value)?;
    write(path, &value)?;
    Ok(r)
    // The lock is released when `lock` is dropped.
}
