//! Where the server keeps its state and publishes its objects: the embedded defaults (sled in
//! `db/`, files in `objects/`) or, for several replicas, a PostgreSQL database and an
//! S3-compatible bucket (see `docs/deployment.md`).
//!
//! Secrets (the database password, the S3 secret key) are never in `config.toml` itself: they
//! are read from a file or an environment variable that the configuration names, and nothing
//! here prints them (a connection URL that carries a password is refused).

use std::path::PathBuf;
use std::str::FromStr;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where accepted uploads and the chain head are stored (`store` in `config.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreSetting {
    /// `store = "sled"`: sled in the data directory's `db/`; one process, one machine.
    #[default]
    Sled,
    /// `store = { postgres = "postgres://en@db.example/en", password_file = "db.password" }`:
    /// a PostgreSQL database that several replicas share.
    Postgres(PostgresSetting),
}

/// A PostgreSQL database (the URL names no password; see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresSetting {
    /// Connection URL without a password, e.g. `postgres://en@db.example:5432/en`
    /// (`?sslmode=require` for TLS, verified against `ca_file`).
    pub postgres: String,
    /// A file whose first line is the password (relative to the data directory; mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// CA certificates (PEM) that the database's TLS certificate must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Connections in this replica's pool.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_pool_size() -> usize {
    16
}

impl PostgresSetting {
    /// A setting for `url` with no password source, the default pool and no TLS roots.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresSetting {
            postgres: url.into(),
            password_file: None,
            password_env: None,
            ca_file: None,
            pool_size: default_pool_size(),
        }
    }

    /// Checks the setting: a URL that parses and carries no password, one password source
    /// at most, a sensible pool.
    pub fn check(&self) -> Result<(), String> {
        let c = tokio_postgres::Config::from_str(&self.postgres).map_err(|_| {
            "store.postgres must be a connection URL such as postgres://en@db.example:5432/en"
                .to_string()
        })?;
        if c.get_password().is_some() {
            return Err(
                "store.postgres must not contain the password: put it in a file named by \
                 password_file, or in an environment variable named by password_env"
                    .into(),
            );
        }
        if self.password_file.is_some() && self.password_env.is_some() {
            return Err("store: set password_file or password_env, not both".into());
        }
        if !(1..=1000).contains(&self.pool_size) {
            return Err("store.pool_size must be between 1 and 1000".into());
        }
        Ok(())
    }
}

/// Where batches, the index and the risk configuration are published (`objects`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ObjectsSetting {
    /// `objects = "local"`: the data directory's `objects/`.
    #[default]
    Local,
    /// `objects = { dir = "/srv/en-objects" }`: another directory (e.g. one that a web server
    /// in front serves, or a shared file system).
    Dir(DirSetting),
    /// `objects = { s3 = "s3://bucket/prefix", endpoint = "https://…", … }`: an S3-compatible
    /// bucket, typically a CDN's origin.
    S3(S3Setting),
}

/// A directory of objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DirSetting {
    /// The directory (relative to the data directory).
    pub dir: PathBuf,
}

impl DirSetting {
    /// Objects in `dir` (relative to the data directory).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirSetting { dir: dir.into() }
    }
}

/// An S3-compatible bucket. Credentials not given here come from the standard `AWS_*`
/// environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Setting {
    /// `s3://bucket` or `s3://bucket/prefix`: object names are `prefix/v1/index`, …
    pub s3: String,
    /// The endpoint of an S3-compatible service (none: AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// A file whose first line is the secret access key (relative to the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
    /// Allow a plain-HTTP endpoint (a test server, or a private network).
    #[serde(default)]
    pub allow_http: bool,
}

impl S3Setting {
    /// A setting for `url` (`s3://bucket/prefix`) with everything else from the environment.
    pub fn new(url: impl Into<String>) -> Self {
        S3Setting {
            s3: url.into(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key_file: None,
            allow_http: false,
        }
    }

    /// The bucket and the object name prefix (possibly empty).
    pub fn bucket_and_prefix(&self) -> Result<(String, String), String> {
        let rest = self
            .s3
            .strip_prefix("s3://")
            .ok_or("objects.s3 must be s3://bucket or s3://bucket/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("objects.s3 names no bucket".into());
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }
}

fn table<'de, D: Deserializer<'de>, T: DeserializeOwned>(v: toml::Value) -> Result<T, D::Error> {
    v.try_into().map_err(D::Error::custom)
}

impl Serialize for StoreSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StoreSetting::Sled => s.serialize_str("sled"),
            StoreSetting::Postgres(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for StoreSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) if s == "sled" => Ok(StoreSetting::Sled),
            v @ toml::Value::Table(_) if v.get("postgres").is_some() => {
                Ok(StoreSetting::Postgres(table::<D, _>(v)?))
            }
            _ => Err(D::Error::custom(
                "store must be \"sled\" or { postgres = \"postgres://user@host/db\", password_file = \"…\" }",
            )),
        }
    }
}

impl Serialize for ObjectsSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ObjectsSetting::Local => s.serialize_str("local"),
            ObjectsSetting::Dir(d) => d.serialize(s),
            ObjectsSetting::S3(b) => b.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ObjectsSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) if s == "local" => Ok(ObjectsSetting::Local),
            v @ toml::Value::Table(_) if v.get("dir").is_some() => {
                Ok(ObjectsSetting::Dir(table::<D, _>(v)?))
            }
            v @ toml::Value::Table(_) if v.get("s3").is_some() => {
                Ok(ObjectsSetting::S3(table::<D, _>(v)?))
            }
            _ => Err(D::Error::custom(
                "objects must be \"local\", { dir = \"/path\" } or { s3 = \"s3://bucket/prefix\", endpoint = \"…\" }",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn both_forms_parse_and_serialize_back() {
        let text = r#"
store = { postgres = "postgres://en@db.example:5432/en", password_env = "EN_DB_PASSWORD" }
objects = { s3 = "s3://en-bucket/vn", endpoint = "http://127.0.0.1:9000", allow_http = true }
"#;
        let c: Config = toml::from_str(text).unwrap();
        let StoreSetting::Postgres(p) = &c.store else {
            panic!("{:?}", c.store)
        };
        assert_eq!(p.password_env.as_deref(), Some("EN_DB_PASSWORD"));
        assert_eq!(p.pool_size, 16);
        p.check().unwrap();
        let ObjectsSetting::S3(s) = &c.objects else {
            panic!("{:?}", c.objects)
        };
        assert_eq!(
            s.bucket_and_prefix().unwrap(),
            ("en-bucket".into(), "vn".into())
        );
        let back: Config = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!((back.store, back.objects), (c.store, c.objects));
        let d: Config = toml::from_str("").unwrap();
        assert_eq!(
            (d.store, d.objects),
            (StoreSetting::Sled, ObjectsSetting::Local)
        );
        let dir: Config = toml::from_str("objects = { dir = \"pub\" }").unwrap();
        assert!(matches!(dir.objects, ObjectsSetting::Dir(_)));
    }

    #[test]
    fn a_password_in_the_url_and_unknown_forms_are_refused() {
        let e = PostgresSetting::new("postgres://en:hunter2@db/en")
            .check()
            .unwrap_err();
        assert!(e.contains("must not contain the password"), "{e}");
        assert!(!e.contains("hunter2"));
        let e = PostgresSetting::new("postgres://en@db/en?password=hunter2")
            .check()
            .unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        for bad in [
            "store = \"postgres\"",
            "store = { mysql = \"x\" }",
            "objects = \"s3\"",
        ] {
            let e = toml::from_str::<Config>(bad).unwrap_err().to_string();
            assert!(e.contains("must be"), "{bad}: {e}");
        }
        let e = toml::from_str::<Config>("store = { postgres = \"p\", pasword_file = \"x\" }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pasword_file"), "{e}");
    }
}
