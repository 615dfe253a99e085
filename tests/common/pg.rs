//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` and `postgres` in a
//! temporary directory, listening on 127.0.0.1 on a free port, with its Unix socket in that
//! directory. PostgreSQL refuses to run as root, so as root (CI) the cluster runs as the
//! `postgres` user that the Debian package creates, in a directory given to that user.
//!
//! The cluster lives as long as the process that started it: a watchdog shell holds our
//! stdin pipe and stops the server (and deletes its directory) when the pipe closes, however
//! the process ends. Tests share one cluster per test binary ([`shared`]) and take a fresh
//! database each ([`Cluster::create_database`]).
//!
//! Standard library only: `tests/common`, `server/tests/support` and the `en-sim bench`
//! measurements include this one file.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The role the server connects as (with a password, over TCP).
pub const ROLE: &str = "en";

/// A running cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password_file: PathBuf,
    run_as: Option<String>,
    watchdog: Mutex<Child>,
}

/// The directory holding `initdb`, `postgres` and `psql`: `$EN_PG_BIN`, the directory of an
/// `initdb` on the PATH, or the newest `/usr/lib/postgresql/*/bin` (Debian's packages).
pub fn binaries() -> Option<PathBuf> {
    let has_all = |d: &Path| {
        ["initdb", "postgres", "psql"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    if let Some(d) = std::env::var_os("EN_PG_BIN").map(PathBuf::from) {
        return has_all(&d).then_some(d);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if let Ok(real) = std::fs::canonicalize(dir.join("initdb")) {
            if let Some(d) = real.parent().filter(|d| has_all(d)) {
                return Some(d.to_path_buf());
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_all(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn id_of(user: &str, flag: &str) -> std::io::Result<u32> {
    let out = Command::new("id").args([flag, user]).output()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            std::io::Error::other(format!(
                "no user {user} (apt-get install postgresql creates it)"
            ))
        })
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("/dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Cluster {
    /// Starts a cluster with PostgreSQL's defaults (fsync on) plus `settings` (`-c k=v`).
    pub fn start(settings: &[(&str, &str)]) -> std::io::Result<Cluster> {
        let bin = binaries().ok_or_else(|| std::io::Error::other("PostgreSQL is not installed"))?;
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "en-pg-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            random_hex(4)
        ));
        std::fs::create_dir(&dir)?;
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(&dir, Some(id_of(user, "-u")?), Some(id_of(user, "-g")?))?;
        }
        let as_user = |program: &Path| -> Command {
            match &run_as {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(program);
                    c
                }
                None => Command::new(program),
            }
        };
        let out = as_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-E", "UTF8", "--auth-local=trust"])
            .arg("--auth-host=scram-sha-256")
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let port = free_port()?;
        let mut args = vec![
            "-D".to_string(),
            dir.join("data").display().to_string(),
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "max_connections=300".into(),
        ];
        for (k, v) in settings {
            args.push("-c".into());
            args.push(format!("{k}={v}"));
        }
        let postgres = std::iter::once(bin.join("postgres").display().to_string())
            .chain(args)
            .map(|a| sh_quote(&a))
            .collect::<Vec<_>>()
            .join(" ");
        // Stops the server and deletes the directory when our end of stdin closes.
        let script = format!(
            "{postgres} >{log} 2>&1 & pid=$!; cat >/dev/null; kill -INT $pid; wait $pid; rm -rf {dir}",
            log = sh_quote(&dir.join("log").display().to_string()),
            dir = sh_quote(&dir.display().to_string()),
        );
        let watchdog = as_user(Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // In the cluster's directory: deleted with it.
        let password_file = dir.join("password");
        let c = Cluster {
            dir,
            bin,
            port,
            password_file,
            run_as,
            watchdog: Mutex::new(watchdog),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while c.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(c.dir.join("log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "PostgreSQL did not start:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let password = random_hex(16);
        c.psql(
            "postgres",
            &format!("CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{password}'"),
        )?;
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&c.password_file)?;
            writeln!(f, "{password}")?;
        }
        Ok(c)
    }

    /// Runs `sql` as the superuser over the Unix socket; returns psql's unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> std::io::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
            ])
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates a fresh database owned by [`ROLE`]; returns its URL (no password in it).
    pub fn create_database(&self, prefix: &str) -> std::io::Result<String> {
        let name = format!("{prefix}_{}", random_hex(6));
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {ROLE}"))?;
        Ok(self.url(&name))
    }

    /// The URL of database `name` for [`ROLE`] over TCP.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{name}", self.port)
    }

    /// A file (mode 0600) holding [`ROLE`]'s password.
    pub fn password_file(&self) -> &Path {
        &self.password_file
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the watchdog's stdin stops the server and deletes its directory.
        if let Ok(mut w) = self.watchdog.lock() {
            drop(w.stdin.take());
            let _ = w.wait();
        }
    }
}

/// Whether missing tools must fail tests rather than skip them (`.ci/run` sets
/// `EN_REQUIRE_ALL_TESTS=1`, so CI never skips).
pub fn required() -> bool {
    std::env::var_os("EN_REQUIRE_ALL_TESTS").is_some()
}

/// The cluster this test binary shares, started on first use; `None` (after saying so) if
/// PostgreSQL is not installed and tests may skip. Panics if it is required and missing, or
/// if it is installed but does not start.
pub fn shared(test: &str) -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    let c = CLUSTER.get_or_init(|| {
        binaries()?;
        Some(Cluster::start(&[]).unwrap_or_else(|e| panic!("{e}")))
    });
    if c.is_none() {
        assert!(
            !required(),
            "{test} needs PostgreSQL (apt-get install postgresql); .ci/install.sh installs it"
        );
        eprintln!("SKIPPED {test}: PostgreSQL is not installed (apt-get install postgresql)");
    }
    c.as_ref()
}
