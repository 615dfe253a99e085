//! `en-sim rpis` reproduces the published GAEN vector, and malformed arguments give a
//! one-line error with a non-zero exit.

use std::process::Command;

fn en_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_en-sim"))
        .args(args)
        .output()
        .expect("run en-sim")
}

#[test]
fn reproduces_published_vector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/gaen-crypto.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ks = &v["key_schedule_vector"];
    let first = ks["en_interval_number_of_first_rpi"]
        .as_u64()
        .unwrap()
        .to_string();
    let out = en_sim(&[
        "rpis",
        "--tek",
        ks["tek_hex"].as_str().unwrap(),
        "--interval",
        &first,
        "--metadata",
        ks["ble_metadata_hex"].as_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let intervals = ks["intervals"].as_array().unwrap();
    assert_eq!(lines.len(), intervals.len());
    for (line, iv) in lines.iter().zip(intervals) {
        let want = format!(
            "{} {} {}",
            iv["en_interval_number"],
            iv["rpi_hex"].as_str().unwrap(),
            iv["aem_hex"].as_str().unwrap()
        );
        assert_eq!(*line, want);
    }
    // Without --metadata: two columns; --count limits the lines.
    let out = en_sim(&[
        "rpis",
        "--tek",
        ks["tek_hex"].as_str().unwrap(),
        "--interval",
        &first,
        "--count",
        "2",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{first} {}", intervals[0]["rpi_hex"].as_str().unwrap())
    );
}

#[test]
fn malformed_arguments_fail_in_one_line() {
    for args in [
        &["rpis", "--tek", "zz", "--interval", "1"][..],
        &["rpis", "--tek", "75c734c6dd1a782de7a965da5eb93125"],
        &[
            "rpis",
            "--tek",
            "75c734c6dd1a782de7a965da5eb93125",
            "--interval",
            "-1",
        ],
        &[
            "rpis",
            "--tek",
            "75c734c6dd1a782de7a965da5eb93125",
            "--interval",
            "1",
            "--count",
            "0",
        ],
        &[
            "rpis",
            "--tek",
            "75c734c6dd1a782de7a965da5eb93125",
            "--interval",
            "1",
            "--metadata",
            "4008",
        ],
        &[
            "rpis",
            "--tek",
            "75c734c6dd1a782de7a965da5eb93125",
            "--interval",
            "4294967295",
            "--count",
            "2",
        ],
    ] {
        let out = en_sim(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed output");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}
