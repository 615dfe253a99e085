//! The crate's own source has no `unsafe` (see src/lib.rs): a second guard beside
//! `forbid(unsafe_code)`, which would have to go if the lint ever fired on UniFFI's
//! generated scaffolding.

use std::path::Path;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// True if `line`, without its `//` comment, has `unsafe` as a whole word (so the lint name
/// `unsafe_code` does not count).
fn has_unsafe(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices("unsafe").any(|(i, w)| {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let before = code[..i].chars().next_back().is_some_and(word);
        let after = code[i + w.len()..].chars().next().is_some_and(word);
        !before && !after
    })
}

#[test]
fn no_unsafe_in_our_source() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 4, "found only {files:?}");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (n, line) in text.lines().enumerate() {
            if has_unsafe(line) {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "`unsafe` in ffi/src:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_the_keyword_and_only_the_keyword() {
    assert!(has_unsafe("    let x = unsafe { f() };"));
    assert!(has_unsafe("unsafe fn f() {}"));
    assert!(has_unsafe(
        "#[allow(unsafe_code)] unsafe impl Send for X {}"
    ));
    assert!(!has_unsafe("#![forbid(unsafe_code)]"));
    assert!(!has_unsafe("//! uses no `unsafe` at all"));
    assert!(!has_unsafe(
        "let not_unsafe_here = 1; // unsafe in a comment"
    ));
}
