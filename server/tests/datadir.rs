//! The data directory and the operator's commands: private by default and refused when not;
//! registry edits that cannot undo each other; and `authority add` that never takes (or
//! echoes) a secret key.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use en_protocol::keys::SigningKey;
use en_server::registry;
use support::AUTHORITY;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn init_makes_it_private_and_the_server_refuses_an_exposed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    en_server::datadir::init(&dir).unwrap();
    let d = en_server::datadir::DataDir::new(&dir);
    assert_eq!(mode(&dir), 0o700);
    for f in [
        d.config_file(),
        d.replay_key(),
        d.revision_key(),
        dir.join("export-keys/export-1.key"),
        dir.join("tls/key.pem"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let cfg = en_server::config::Config::load(&d.config_file()).unwrap();
    let state = en_server::AppState::open(cfg.clone(), Default::default())
        .await
        .unwrap();
    assert_eq!(mode(&d.db()), 0o700);
    assert_eq!(mode(&d.objects()), 0o700);
    state.store.flush().await.unwrap();
    drop(state);
    // Group- or world-readable: refused, naming the path and the fix.
    for (path, fix) in [
        (dir.clone(), 0o755),
        (d.db(), 0o750),
        (d.replay_key(), 0o644),
        (d.revision_key(), 0o640),
        (dir.join("tls/key.pem"), 0o640),
    ] {
        let before = mode(&path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(fix)).unwrap();
        let e = en_server::AppState::open(cfg.clone(), Default::default())
            .await
            .err()
            .expect("refused");
        let msg = e.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("chmod"),
            "{msg}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(before)).unwrap();
    }
    let key = dir.join("export-keys/export-1.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = en_server::AppState::open(cfg, Default::default())
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("chmod 600"), "{e}");
}

#[test]
fn concurrent_registry_edits_do_not_undo_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(registry::REGISTRY_FILE);
    let entry = |id: String| registry::Entry {
        id,
        public_key: SigningKey::from_seed(&[1; 32]).public_key().to_hex(),
        region: None,
        revoked: false,
        added_at: 0,
    };
    registry::add(&file, entry("target".into())).unwrap();
    // Eight writers add 25 authorities each while the target is revoked in the middle: without
    // the lock, an add that read the file before the revoke writes it back unrevoked, and adds
    // overwrite each other.
    std::thread::scope(|s| {
        for t in 0..8 {
            let (file, entry) = (&file, &entry);
            s.spawn(move || {
                for i in 0..25 {
                    registry::add(file, entry(format!("a{t}-{i}"))).unwrap();
                    if t == 0 && i == 10 {
                        registry::revoke(file, "target").unwrap();
                    }
                }
            });
        }
    });
    let all = registry::read(&file).unwrap();
    assert_eq!(all.len(), 1 + 8 * 25, "no add was lost");
    assert!(
        all.iter().find(|e| e.id == "target").unwrap().revoked,
        "the revocation stays"
    );
    // No temporary file is left behind.
    let stray: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn authority_add_refuses_a_secret_key_and_never_echoes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let exe = env!("CARGO_BIN_EXE_en-server");
    assert!(Command::new(exe)
        .args(["init", "--dir"])
        .arg(&dir)
        .output()
        .unwrap()
        .status
        .success());
    let key = SigningKey::from_seed(&[9; 32]);
    let seed_hex = en_protocol::hex::encode(key.to_seed().as_ref());
    let labelled = tmp.path().join("moh.key");
    en_api::keyfile::write_signing_key(&labelled, &key).unwrap();
    let bare = tmp.path().join("old.key");
    std::fs::write(&bare, format!("{seed_hex}\n")).unwrap();
    for file in [&labelled, &bare] {
        let out = Command::new(exe)
            .args(["authority", "add", AUTHORITY, "--dir"])
            .arg(&dir)
            .arg("--public-key")
            .arg(file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains(&seed_hex[..16]), "key material echoed: {err}");
        assert!(registry::read(&dir.join(registry::REGISTRY_FILE))
            .unwrap()
            .is_empty());
    }
    // A public key file (as `en-sim authority keygen` writes beside the secret) is accepted.
    let public = tmp.path().join("moh.key.pub");
    en_api::keyfile::write_public_key(&public, &key.public_key()).unwrap();
    let out = Command::new(exe)
        .args(["authority", "add", AUTHORITY, "--dir"])
        .arg(&dir)
        .arg("--public-key")
        .arg(&public)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = registry::read(&dir.join(registry::REGISTRY_FILE)).unwrap();
    assert_eq!(all[0].public_key, key.public_key().to_hex());
}

/// `en-server authority add --server-key` keeps the key private and registers its public half;
/// `en-server console user add|reset|remove|list` manage accounts, print each password once,
/// and never store it in the clear.
#[test]
fn console_accounts_from_the_command_line() {
    let exe = env!("CARGO_BIN_EXE_en-server");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let run = |args: &[&str]| {
        let out = Command::new(exe)
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init"]);
    run(&[
        "authority",
        "add",
        "moh.vn",
        "--server-key",
        "--region",
        "VN",
    ]);
    let key = dir.join("authority-keys/moh.vn.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&dir.join("authority-keys")), 0o700);
    let out = run(&[
        "console",
        "user",
        "add",
        "alice",
        "--authority",
        "moh.vn",
        "--role",
        "admin",
    ]);
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    assert_eq!(password.len(), 20);
    let users = dir.join("console-users.json");
    assert_eq!(mode(&users), 0o600);
    let stored = std::fs::read_to_string(&users).unwrap();
    assert!(stored.contains("$argon2id$") && !stored.contains(&password));
    let out = run(&["console", "user", "reset", "alice"]);
    assert!(!out.contains(&password));
    assert!(run(&["console", "user", "list"]).contains("alice\tmoh.vn\tadmin"));
    run(&["console", "user", "remove", "alice"]);
    assert_eq!(run(&["console", "user", "list"]).trim(), "no accounts");
    // A role that is neither admin nor staff is refused, not silently made staff.
    let out = Command::new(exe)
        .args([
            "console",
            "user",
            "add",
            "bob",
            "--authority",
            "moh.vn",
            "--role",
            "root",
        ])
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `en-server federation status | resync`: every configured peer listed with what was imported
/// from it; a resync of a peer nothing was imported from changes nothing; a region that is not
/// a configured peer is a one-line error naming the configured ones.
#[test]
fn federation_status_and_resync_from_the_command_line() {
    let exe = env!("CARGO_BIN_EXE_en-server");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let run = |args: &[&str]| {
        Command::new(exe)
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    let out = run(&["federation", "status"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no federation peers configured ([[federation.peers]])"
    );
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let peer = r#"peers = [{ region = "VN-KG", url = "https://kg.example:8443", export_public_key = "peers/kg.pub" }]"#;
    assert!(text.contains("\npeers = []\n"));
    std::fs::write(&cfg, text.replace("\npeers = []\n", &format!("\n{peer}\n"))).unwrap();

    let out = run(&["federation", "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "VN-KG\thttps://kg.example:8443\tnothing imported\tno index accepted"
    );
    let out = run(&["federation", "resync", "VN-KG"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nothing was imported from VN-KG; nothing changed"
    );
    let out = run(&["federation", "resync", "VN-HN"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("VN-HN is not a federation peer (configured: VN-KG)"),
        "{err}"
    );
}

/// `en-server export-public-key --out FILE` writes the active export key's public half, the
/// key `init` printed, in the file format peers and `authority add` read; it never overwrites.
#[test]
fn the_export_public_key_is_written_for_peers() {
    let exe = env!("CARGO_BIN_EXE_en-server");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let init = Command::new(exe)
        .args(["init", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let printed = String::from_utf8(init.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("export public key: ").map(str::to_string))
        .unwrap();
    let file = tmp.path().join("vn.pub");
    let export = || {
        Command::new(exe)
            .args(["export-public-key", "--dir"])
            .arg(&dir)
            .arg("--out")
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = export();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = en_api::keyfile::parse_public_key(file.to_str().unwrap()).unwrap();
    assert_eq!(key.to_hex(), printed);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("SECRET"), "{text}");
    let again = export();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}
