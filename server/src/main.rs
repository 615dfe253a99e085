//! `en-server`: the key server and its admin commands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use en_server::config::{Config, CONFIG_FILE, DEFAULT_DATA_DIR};
use en_server::datadir;
use en_server::registry;

/// Exposure-notification key server: accepts signed uploads from health authorities and
/// publishes signed, hash-chained batches of diagnosis keys for phones.
#[derive(Parser)]
#[command(name = "en-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: config.toml (every setting, commented), an export signing key
    /// and a self-signed TLS certificate for localhost. Never overwrites existing files.
    Init {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        dir: PathBuf,
    },
    /// Serve HTTPS. Without --config, uses DIR/config.toml (DIR: --dir, default ./en-data),
    /// creating and initialising the data directory first if it does not exist.
    Serve {
        /// Configuration file (its directory is the data directory).
        #[arg(long, conflicts_with = "dir")]
        config: Option<PathBuf>,
        /// Data directory (as for `init` and `authority`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Serve plain HTTP instead of HTTPS (only behind a TLS-terminating proxy).
        #[arg(long)]
        insecure_http: bool,
        /// Override the configured listen address (e.g. 127.0.0.1:0 for an ephemeral port).
        #[arg(long)]
        listen: Option<String>,
        /// Override the configured admin listen address (metrics; loopback by default).
        #[arg(long)]
        admin_listen: Option<String>,
        /// For simulations only: follow the Unix time written in FILE instead of the system
        /// clock (`en-sim run --server URL --server-clock-file FILE` drives it).
        #[arg(long, value_name = "FILE")]
        virtual_clock: Option<PathBuf>,
    },
    /// Manage the health authorities whose signatures the server accepts. Works while the
    /// server runs: changes take effect on the next upload.
    Authority {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        action: AuthorityCmd,
    },
    /// The health authority console (on the admin listener): its accounts.
    Console {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        action: ConsoleCmd,
    },
    /// Self-reports (spec/self-report.md): test-kit codes.
    Selfreport {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        action: SelfreportCmd,
    },
    /// Federation between regions (spec/federation.md): the imports from the peers in
    /// config.toml. With the sled store, stop the server first (sled locks its database);
    /// with PostgreSQL, it may run.
    Federation {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        action: FederationCmd,
    },
    /// Write the public half of the active export signing key to FILE (never overwritten):
    /// what phones and federation peers (`export_public_key` in [[federation.peers]]) trust.
    ExportPublicKey {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        dir: PathBuf,
        /// The public key file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add a new export signing key (for rotation). It is listed in export_keys; make it
    /// active by setting active_export_key in config.toml and restarting.
    ExportKey {
        /// Data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        dir: PathBuf,
        /// File name under export-keys/.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum FederationCmd {
    /// For each configured peer: its URL, the last batch imported from it and when the index
    /// it was listed in was signed.
    Status,
    /// Resynchronise with a peer whose chain broke (the poller logs `chain_gap`, `chain_fork`
    /// or `chain_rollback` and imports nothing until then): forget the last batch imported from it.
    /// The next poll trusts the first batch of the last unbroken run the peer lists and follows
    /// its chain from there; keys imported before are skipped and an older batch cannot undo a
    /// revision, so nothing is published twice. Only after checking
    /// with the peer's operator why the chain broke: the batch trusted next is accepted on its
    /// signature alone.
    Resync {
        /// The peer's region, as in [[federation.peers]].
        region: String,
    },
}

#[derive(Subcommand)]
enum SelfreportCmd {
    /// Create one-time test-kit codes (20 characters, 100 bits, printed as xxxx-xxxx-xxxx-xxxx-xxxx)
    /// and write them to FILE, one per line (mode 0600; never overwritten). Only their keyed
    /// hashes are stored, with an expiry of console.kit_code_lifetime_days; print them into
    /// the kits and delete FILE. With the sled store, stop the server first (sled locks its
    /// database); with PostgreSQL, it may run.
    Kits {
        /// How many codes (1 to 1000000).
        #[arg(long)]
        count: usize,
        /// Where to write them (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConsoleCmd {
    /// Console accounts. Works while the server runs; a reset or removal ends the account's
    /// sessions.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account and print its password (shown once).
    Add {
        /// Account name, 1-64 of a-z 0-9 . _ -
        name: String,
        /// The authority it acts for (registered with --server-key to issue codes).
        #[arg(long)]
        authority: String,
        /// admin (also manages accounts and API keys, reads the audit log) or staff.
        #[arg(long, default_value = "staff", value_parser = ["admin", "staff"])]
        role: String,
    },
    /// Give an account a new password and print it (shown once).
    Reset {
        /// Account name.
        name: String,
    },
    /// Remove an account.
    Remove {
        /// Account name.
        name: String,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum AuthorityCmd {
    /// Register an authority.
    Add {
        /// Identifier, 1-64 of a-z 0-9 . _ -
        id: String,
        /// ed25519 public key: 64 hex characters, or a public key file (`public-key: <hex>`,
        /// as `en-sim authority keygen` writes beside the secret key). Secret key files are
        /// refused.
        #[arg(long, required_unless_present = "server_key")]
        public_key: Option<String>,
        /// Instead of --public-key: generate the authority's key in the data directory
        /// (authority-keys/ID.key, 0600) so that the server signs verification certificates
        /// for the codes its staff issue in the console.
        #[arg(long, conflicts_with = "public_key")]
        server_key: bool,
        /// Restrict the authority to one region (e.g. VN).
        #[arg(long)]
        region: Option<String>,
    },
    /// List authorities.
    List,
    /// Revoke an authority: its signatures are refused from the next upload on.
    Revoke {
        /// Identifier.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match en_api::cli::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => en_api::cli::fail(e.as_ref()),
    }
}

fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { dir } => {
            let r = datadir::init(&dir)?;
            for f in &r.created {
                println!("created {}", f.display());
            }
            if r.created.is_empty() {
                println!("{} already initialised; nothing changed", dir.display());
            }
            println!("export public key: {}", r.export_public_key);
            Ok(())
        }
        Command::Serve {
            config,
            dir,
            insecure_http,
            listen,
            admin_listen,
            virtual_clock,
        } => {
            init_tracing();
            let file = match config {
                Some(f) => f,
                None => {
                    let dir = dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                    let fresh = !dir.join(CONFIG_FILE).exists();
                    // Creates what is missing (all of it on a first start); never overwrites.
                    let r = datadir::init(&dir)?;
                    if fresh {
                        tracing::info!(dir = %dir.display(), export_public_key = %r.export_public_key, "initialised a new data directory");
                    }
                    dir.join(CONFIG_FILE)
                }
            };
            let mut cfg = Config::load(&file)?;
            if let Some(l) = listen {
                cfg.config.listen = l;
            }
            if let Some(l) = admin_listen {
                cfg.config.admin_listen = l;
            }
            let clock = match virtual_clock {
                Some(f) => {
                    tracing::warn!(file = %f.display(), "using a virtual clock: for simulations only");
                    en_server::Clock::follow_file(f)?
                }
                None => en_server::Clock::system(),
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let bind = |addr: String| async move {
                    tokio::net::TcpListener::bind(&addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr}"))
                };
                let public = bind(cfg.config.listen.clone()).await?;
                let admin = bind(cfg.config.admin_listen.clone()).await?;
                let transport = if insecure_http {
                    en_server::Transport::InsecureHttp
                } else {
                    en_server::Transport::Tls
                };
                // Printed for scripts that start the server on an ephemeral port.
                println!("listening on {}", public.local_addr()?);
                println!("admin on {}", admin.local_addr()?);
                let listeners = en_server::Listeners {
                    public,
                    admin: Some(admin),
                };
                en_server::run(cfg, listeners, transport, clock, shutdown_signal()).await?;
                Ok(())
            })
        }
        Command::Authority { dir, action } => {
            let path = dir.join(registry::REGISTRY_FILE);
            if !dir.join(CONFIG_FILE).exists() {
                anyhow::bail!(
                    "{} is not a data directory (run `en-server init --dir {}` first)",
                    dir.display(),
                    dir.display()
                );
            }
            match action {
                AuthorityCmd::Add {
                    id,
                    public_key,
                    server_key,
                    region,
                } => {
                    let pk = match public_key {
                        // Refuses a secret key file, and never echoes key material in an error.
                        Some(k) if !server_key => en_api::keyfile::parse_public_key(&k)?.to_hex(),
                        _ => {
                            if registry::read(&path)?.iter().any(|e| e.id == id) {
                                anyhow::bail!("authority {id} already exists");
                            }
                            let keys = datadir::DataDir::new(&dir).authority_keys();
                            let pk = en_server::verification::keys::create(&keys, &id)?;
                            println!(
                                "created {}",
                                en_server::verification::keys::key_path(&keys, &id).display()
                            );
                            pk.to_hex()
                        }
                    };
                    let added_at = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_secs();
                    registry::add(
                        &path,
                        registry::Entry {
                            id: id.clone(),
                            public_key: pk,
                            region,
                            revoked: false,
                            added_at,
                        },
                    )?;
                    println!("added authority {id}");
                }
                AuthorityCmd::List => {
                    let all = registry::read(&path)?;
                    if all.is_empty() {
                        println!("no authorities registered");
                    }
                    for e in all {
                        println!(
                            "{}\t{}\tregion={}\t{}",
                            e.id,
                            e.public_key,
                            e.region.as_deref().unwrap_or("any"),
                            if e.revoked { "REVOKED" } else { "active" }
                        );
                    }
                }
                AuthorityCmd::Revoke { id } => {
                    registry::revoke(&path, &id)?;
                    println!("revoked authority {id}");
                }
            }
            Ok(())
        }
        Command::Console { dir, action } => {
            if !dir.join(CONFIG_FILE).exists() {
                anyhow::bail!(
                    "{} is not a data directory (run `en-server init --dir {}` first)",
                    dir.display(),
                    dir.display()
                );
            }
            console_command(&datadir::DataDir::new(&dir).console_users(), action)
        }
        Command::Selfreport {
            dir,
            action: SelfreportCmd::Kits { count, out },
        } => {
            let cfg = Config::load(&dir.join(CONFIG_FILE))?;
            let now = en_protocol::UnixTime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs(),
            );
            let n = tokio::runtime::Runtime::new()?.block_on(
                en_server::selfreport::kits::create_file(&cfg, count, &out, now),
            )?;
            println!("wrote {n} kit codes to {}", out.display());
            Ok(())
        }
        Command::Federation { dir, action } => {
            let cfg = Config::load(&dir.join(CONFIG_FILE))?;
            let rt = tokio::runtime::Runtime::new()?;
            match action {
                FederationCmd::Status => {
                    let all = rt.block_on(en_server::federation::admin::status(&cfg))?;
                    if all.is_empty() {
                        println!("no federation peers configured ([[federation.peers]])");
                    }
                    for p in all {
                        let last = p.last_imported.map_or_else(
                            || "nothing imported".into(),
                            |s| format!("last batch {s}"),
                        );
                        let index = p.index_generated_at.map_or_else(
                            || "no index accepted".into(),
                            |t| format!("listed in an index signed {}", utc(t.0)),
                        );
                        println!("{}\t{}\t{last}\t{index}", p.region, p.url);
                    }
                }
                FederationCmd::Resync { region } => {
                    match rt.block_on(en_server::federation::admin::resync(&cfg, &region))? {
                        Some(seq) => println!(
                            "forgot batch {seq} of {region}: the next poll follows its chain from the first batch it lists"
                        ),
                        None => println!("nothing was imported from {region}; nothing changed"),
                    }
                }
            }
            Ok(())
        }
        Command::ExportPublicKey { dir, out } => {
            let cfg = Config::load(&dir.join(CONFIG_FILE))?;
            let key = en_api::keyfile::read_signing_key(&cfg.path(&cfg.config.active_export_key))?
                .public_key();
            en_api::keyfile::write_public_key(&out, &key)?;
            println!("wrote {} (key id {})", out.display(), key.key_id());
            Ok(())
        }
        Command::ExportKey { dir, name } => {
            if name.contains('/') || name.contains("..") {
                anyhow::bail!("--name must be a plain file name");
            }
            let file = PathBuf::from("export-keys").join(&name);
            let key = en_protocol::keys::SigningKey::generate(&mut rand::rngs::OsRng);
            en_api::keyfile::write_signing_key(&dir.join(&file), &key)?;
            let cfg_path = dir.join(CONFIG_FILE);
            let text = std::fs::read_to_string(&cfg_path)
                .with_context(|| format!("cannot read {}", cfg_path.display()))?;
            let mut doc: toml::Table = toml::from_str(&text)?;
            let list = doc
                .entry("export_keys")
                .or_insert_with(|| toml::Value::Array(vec![]));
            if let toml::Value::Array(a) = list {
                a.push(toml::Value::String(file.display().to_string()));
            }
            // Comments are lost when rewriting; keep the original beside it.
            std::fs::write(cfg_path.with_extension("toml.bak"), &text)?;
            std::fs::write(&cfg_path, toml::to_string_pretty(&doc)?)?;
            println!("created {}", dir.join(&file).display());
            println!("export public key: {}", key.public_key().to_hex());
            println!("key id: {}", key.public_key().key_id());
            Ok(())
        }
    }
}

fn console_command(file: &std::path::Path, action: ConsoleCmd) -> anyhow::Result<()> {
    use en_server::console::users::{self, Role};
    let ConsoleCmd::User { action } = action;
    match action {
        UserCmd::Add {
            name,
            authority,
            role,
        } => {
            let role = Role::parse(&role).unwrap_or(Role::Staff);
            let p = users::add_user(file, &name, &authority, role)?;
            println!("added account {name} ({} of {authority})", role.as_str());
            println!("password: {}", p.expose());
            println!("(shown once; `en-server console user reset {name}` makes a new one)");
        }
        UserCmd::Reset { name } => {
            let p = users::reset_password(file, &name, None)?;
            println!("new password of {name}: {}", p.expose());
        }
        UserCmd::Remove { name } => {
            users::remove_user(file, &name, None)?;
            println!("removed account {name}");
        }
        UserCmd::List => {
            let all = users::list(file)?;
            if all.is_empty() {
                println!("no accounts");
            }
            for u in all {
                println!("{}\t{}\t{}", u.name, u.authority, u.role.as_str());
            }
        }
    }
    Ok(())
}

/// `2026-01-01 09:10 UTC`.
fn utc(t: u64) -> String {
    let (y, m, d) = en_api::date::Day::of_unix(t).ymd();
    let s = t % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("signal received");
}
