//! A local directory as an [`ObjectStore`] whose writes are durable.
//!
//! `object_store`'s [`LocalFileSystem`] renames a staged file into place but never fsyncs, so
//! after a power loss an object could be empty or missing although the write returned. Here
//! a put writes a temporary file beside the object, fsyncs it, renames it into place and
//! fsyncs the directory (and any directory it had to create): an object is complete on stable
//! storage, or absent. Everything else is `LocalFileSystem`'s. Objects are files of mode
//! 0644 (they are published), so that a web server in front (nginx) can serve the directory;
//! temporary files start with `.` and are not objects.

use std::fs::File;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// A directory of objects with durable puts.
#[derive(Debug)]
pub struct DurableDir {
    root: PathBuf,
    inner: LocalFileSystem,
}

impl std::fmt::Display for DurableDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DurableDir({})", self.root.display())
    }
}

fn sync_dir(dir: &FsPath) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn generic(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "DurableDir",
        source: Box::new(e),
    }
}

impl DurableDir {
    /// The store of objects under `root` (which must exist).
    pub fn new(root: &FsPath) -> Result<Self> {
        Ok(DurableDir {
            root: root.to_path_buf(),
            inner: LocalFileSystem::new_with_prefix(root)?,
        })
    }

    /// Creates the parents of `file` that are missing, fsyncing each new directory's parent.
    fn create_parents(&self, file: &FsPath) -> std::io::Result<()> {
        let Some(parent) = file.parent() else {
            return Ok(());
        };
        let missing: Vec<&FsPath> = parent
            .ancestors()
            .take_while(|d| *d != self.root && !d.exists())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(parent)?;
        for d in missing.iter().rev() {
            sync_dir(d.parent().unwrap_or(&self.root))?;
        }
        Ok(())
    }

    fn put_blocking(path: &FsPath, payload: &PutPayload, create: bool) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = path.parent().unwrap_or(FsPath::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)?;
        for chunk in payload.iter() {
            tmp.write_all(chunk)?;
        }
        tmp.as_file().sync_all()?;
        if create {
            tmp.persist_noclobber(path).map_err(|e| e.error)?;
        } else {
            tmp.persist(path).map_err(|e| e.error)?;
        }
        sync_dir(dir)
    }
}

#[async_trait]
impl ObjectStore for DurableDir {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        // Per-object headers are not kept: the web server in front of the directory sets them
        // (docs/nginx-objects.conf). Attributes are therefore ignored rather than refused.
        let create = match opts.mode {
            PutMode::Overwrite => false,
            PutMode::Create => true,
            PutMode::Update(_) => {
                return Err(object_store::Error::NotImplemented {
                    operation: "conditional update".into(),
                    implementer: self.to_string(),
                })
            }
        };
        let path = self.inner.path_to_filesystem(location)?;
        self.create_parents(&path).map_err(generic)?;
        let name = location.to_string();
        tokio::task::spawn_blocking(move || Self::put_blocking(&path, &payload, create))
            .await
            .map_err(|e| generic(std::io::Error::other(e)))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => object_store::Error::AlreadyExists {
                    path: name,
                    source: Box::new(e),
                },
                _ => generic(e),
            })?;
        Ok(PutResult {
            e_tag: None,
            version: None,
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        // Objects here are small and written whole; a multipart upload would bypass the fsync.
        let _ = (location, opts);
        Err(object_store::Error::NotImplemented {
            operation: "multipart upload".into(),
            implementer: self.to_string(),
        })
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn puts_land_whole_with_public_modes_and_create_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let s = DurableDir::new(d.path()).unwrap();
        let p = Path::from("v1/batches/7");
        s.put(&p, PutPayload::from_static(b"seven")).await.unwrap();
        let file = d.path().join("v1/batches/7");
        assert_eq!(std::fs::read(&file).unwrap(), b"seven");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let e = s
            .put_opts(
                &p,
                PutPayload::from_static(b"other"),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, object_store::Error::AlreadyExists { .. }),
            "{e}"
        );
        assert_eq!(s.get(&p).await.unwrap().bytes().await.unwrap(), "seven");
        // No temporary file is left beside the object.
        let names: Vec<_> = std::fs::read_dir(d.path().join("v1/batches"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("7")]);
    }
}
