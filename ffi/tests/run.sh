#!/usr/bin/env bash
# The bindings as proof: builds the UniFFI library and the server and simulator CLIs (debug),
# generates the Python module, and runs test_phone.py against a real en-server.
# Needs only the Rust toolchain and python3 (3.8+, standard library). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build -p en-ffi
cargo build -p en-server -p en-sim

target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
case "$(uname -s)" in
  Darwin) lib="$target/debug/liben_ffi.dylib" ;;
  *) lib="$target/debug/liben_ffi.so" ;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run -q -p en-ffi --bin uniffi-bindgen -- \
  generate --library "$lib" --language python --out-dir "$out" >/dev/null
# The generated en_ffi.py loads the library from its own directory.
cp "$lib" "$out/"

PYTHONPATH="$out" python3 ffi/tests/test_phone.py --bin-dir "$target/debug"
