//! `en-sim inspect` reads the real signed GAEN export.zip, verifies it, and refuses tampered
//! or wrongly keyed input with a one-line error.

use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");

fn inspect(file: &str, pem: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_en-sim"))
        .args(["inspect", file, "--gaen-public-key", pem])
        .output()
        .unwrap()
}

#[test]
fn real_export_zip() {
    let out = inspect(
        &format!("{DIR}gaen-export-2-keys.zip"),
        &format!("{DIR}gaen-export-2-keys.pub.pem"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["region"], "US");
    assert_eq!(v["key_count"], 2);
    assert_eq!(v["keys_usable_by_matcher"], 2);
    assert_eq!(v["keys"][0]["key"], "172fc480e598490c34177604339b1543");
    assert_eq!(v["keys"][1]["rolling_period"], 114);
    assert_eq!(v["signer_key_id"], "some_id");
}

#[test]
fn tampered_or_wrong_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    // Re-pack with one key byte changed: the signature no longer verifies.
    let mut z =
        zip::ZipArchive::new(std::fs::File::open(format!("{DIR}gaen-export-2-keys.zip")).unwrap())
            .unwrap();
    let mut bin = Vec::new();
    std::io::Read::read_to_end(&mut z.by_name("export.bin").unwrap(), &mut bin).unwrap();
    let mut sig = Vec::new();
    std::io::Read::read_to_end(&mut z.by_name("export.sig").unwrap(), &mut sig).unwrap();
    let n = bin.len();
    bin[n - 5] ^= 1;
    let path = dir.path().join("tampered.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, data) in [("export.bin", &bin), ("export.sig", &sig)] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    w.finish().unwrap();
    let pem = format!("{DIR}gaen-export-2-keys.pub.pem");
    for (file, why) in [
        (path.to_str().unwrap().to_string(), "tampered"),
        (pem.clone(), "not a zip"),
    ] {
        let out = inspect(&file, &pem);
        assert!(!out.status.success(), "{why} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}
