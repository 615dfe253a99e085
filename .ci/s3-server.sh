#!/usr/bin/env bash
# The S3-compatible servers of tests/cdn.rs.
#
# Always: moto's S3 HTTP server (`python3 -m moto.server`), installed with pip under
# target/moto (no venv, no root), like Schemathesis: about 10-15 s and 115 MB on a fresh
# machine, a no-op when the pinned version is there. It answers the S3 REST API that
# object_store uses (signed PUT with per-object Content-Type and Cache-Control, GET, DELETE,
# LIST, bucket policies) but does not check signatures.
#
# With --s3s-fs (opt-in; CI does not pass it): also s3s-fs, an S3 server on a directory that
# checks SigV4 signatures, with `cargo install --locked` under target/s3s-fs. It compiles
# 169 crates in release: 234 s on this repository's 2-core machine while other builds shared
# it (2026-11-23), too much of CI's budget for what it adds (tests/cdn.rs runs its test only
# when it is installed, and says SKIPPED otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
DIR=$PWD/target/moto
if ! PYTHONPATH=$DIR python3 -c "import sys, moto, flask, flask_cors; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  rm -rf "$DIR"
  # --target: a private directory, also where the system Python refuses installs (PEP 668).
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$DIR" "moto[s3]==$MOTO_VERSION" "flask==3.1.3" "flask-cors==6.0.5" 2>&1 \
    | grep -v -e "dependency resolver" -e " requires " -e "which is incompatible" || true
fi
PYTHONPATH=$DIR python3 -c "import moto; print('S3 test server: moto', moto.__version__, 'in $DIR')"

if [ "${1:-}" = "--s3s-fs" ]; then
  # 0.14.1: the newest s3s-fs for Rust 1.95 (0.17 needs 1.96).
  S3S_VERSION=0.14.1
  S3S=$PWD/target/s3s-fs
  if [ "$("$S3S/bin/s3s-fs" --version 2>/dev/null)" != "s3s-fs $S3S_VERSION" ]; then
    build=$(mktemp -d)
    CARGO_TARGET_DIR=$build cargo install --quiet --locked --force s3s-fs \
      --version "$S3S_VERSION" --features binary --root "$S3S"
    rm -rf "$build"
  fi
  echo "S3 test server: $("$S3S/bin/s3s-fs" --version) in $S3S"
fi
