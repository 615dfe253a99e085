#!/usr/bin/env bash
# The S3-compatible server of tests/cdn.rs: moto's S3 HTTP server (`python3 -m moto.server`),
# installed with pip under target/moto (no venv, no root), like Schemathesis. About 15 s and
# 115 MB on a fresh machine; a no-op when the pinned version is already there.
#
# Why moto and not s3s-fs or Garage: moto answers the real S3 REST API (SigV4-signed PUT, GET,
# DELETE, LIST, per-object Content-Type and Cache-Control, bucket policies), which is all the
# test needs of a bucket behind a CDN, and pip installs it in seconds; `cargo install s3s-fs`
# would compile a second HTTP/TLS stack on CI's two cores, and Garage is not on crates.io.
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
