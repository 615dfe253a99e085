#!/usr/bin/env python3
"""Dependency rules the workspace keeps (run by .ci/deps.sh):

1. en-protocol builds for phones and the web: its normal dependency tree has no OS-facing
   crate (OS randomness, async runtimes, databases, sockets, HTTP), and its source never
   touches the clock, files, sockets or the OS's random numbers.
2. `rust-version` is what the lockfile really needs: at least the highest `rust-version` of
   every package in the build (clippy's `incompatible_msrv` lint checks our own code).
3. One generation of each RustCrypto crate.
4. Every declared dependency of our crates is used by the code that can use it.
"""
import json, pathlib, re, subprocess, sys, tomllib

root = pathlib.Path(__file__).resolve().parent.parent
fail = []

def run(*args):
    return subprocess.run(args, cwd=root, check=True, capture_output=True, text=True).stdout

# 1. en-protocol stays sans-IO.
tree = run("cargo", "tree", "-p", "en-protocol", "-e", "normal", "--prefix", "none")
forbidden = {"getrandom", "tokio", "mio", "sled", "socket2", "hyper", "reqwest", "tokio-postgres", "object_store"}
found = sorted({l.split()[0] for l in tree.splitlines() if l.split() and l.split()[0] in forbidden})
if found:
    fail.append(f"en-protocol depends on OS-facing crates: {', '.join(found)}")
for f in (root / "protocol/src").rglob("*.rs"):
    # Test modules may time things (measurements run by hand); the library may not.
    text = f.read_text().split("#[cfg(test)]")[0]
    for pat in ["std::fs", "std::net", "SystemTime::now", "Instant::now", "OsRng", "thread_rng"]:
        if pat in text:
            fail.append(f"{f.relative_to(root)} uses {pat}: en-protocol takes time and randomness as arguments")

# 2. rust-version.
meta = json.loads(run("cargo", "metadata", "--format-version", "1"))
def ver(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
ws = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]
needed = max((p for p in meta["packages"] if p.get("rust_version")), key=lambda p: ver(p["rust_version"]))
if ver(needed["rust_version"]) > ver(ws):
    fail.append(f"rust-version {ws} is below what {needed['name']} {needed['version']} needs ({needed['rust_version']})")
print(f"rust-version {ws}; the most demanding dependency needs {needed['rust_version']} ({needed['name']})")

# 3. One generation of the RustCrypto crates.
dups = run("cargo", "tree", "--workspace", "-d", "-e", "normal", "--depth", "0", "--prefix", "none")
crypto = {"aes", "cipher", "ctr", "sha2", "digest", "hkdf", "hmac", "aes-gcm", "aead", "ed25519-dalek",
          "curve25519-dalek", "x25519-dalek", "p256", "elliptic-curve", "subtle", "zeroize"}
twice = sorted({l.split()[0] for l in dups.splitlines() if l.split() and l.split()[0] in crypto})
if twice:
    fail.append(f"two generations of: {', '.join(twice)}")

# 4. Unused dependencies of our crates.
members = [p for p in meta["packages"] if p["source"] is None and p["name"] != "en-fuzz"]
for p in members:
    d = pathlib.Path(p["manifest_path"]).parent
    manifest = tomllib.loads(pathlib.Path(p["manifest_path"]).read_text())
    def used_in(dirs, name):
        ident = name.replace("-", "_")
        pat = re.compile(rf"(?<![:\w]){ident}(::|\s*[;{{]|\s+as\b)|derive\(.*\b{ident}\b")
        for sub in dirs:
            base = d / sub
            files = [base] if base.is_file() else base.rglob("*.rs") if base.exists() else []
            for f in files:
                if pat.search(f.read_text()):
                    return True
        return False
    # Used only through derives, macros or features (checked by hand, see SECURITY.md).
    allowed = {"serde", "thiserror", "async-trait", "tracing-subscriber", "foldhash"}
    deps = manifest.get("dependencies", {})
    dev = manifest.get("dev-dependencies", {})
    src_dirs = ["src", "build.rs"]
    for name, spec in deps.items():
        if name in allowed or (isinstance(spec, dict) and spec.get("optional")):
            continue
        if not used_in(src_dirs, name):
            fail.append(f"{p['name']}: dependency {name} is not used")
    for name in dev:
        if name in allowed or name in deps:
            continue
        if not used_in(["tests", "benches", "src", "examples"], name):
            fail.append(f"{p['name']}: dev-dependency {name} is not used")

if fail:
    print("dependency rules broken:\n  " + "\n  ".join(fail))
    sys.exit(1)
print("dependency rules hold: en-protocol sans-IO, rust-version, one RustCrypto generation, no unused dependency")
