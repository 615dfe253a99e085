#!/usr/bin/env bash
# Schemathesis against a real en-server: spec/openapi.yaml must describe the API as it is.
#
# Builds en-server and en-sim (debug), makes a throwaway data directory with one registered
# authority, serves both listeners on ephemeral ports over TLS, runs Schemathesis with every
# check, then stops the server with SIGTERM and requires exit status 0.
# Needs python3 (3.11) with pip; installs Schemathesis under target/ (no venv, no root).
# Extra arguments go to every Schemathesis run (e.g. --seed N to replay a run).
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
ST_DIR=$PWD/target/schemathesis-$ST_VERSION
if ! PYTHONPATH=$ST_DIR python3 -c "import sys, schemathesis; sys.exit(schemathesis.__version__ != '$ST_VERSION')" 2>/dev/null; then
  rm -rf "$ST_DIR"
  # --target: a private directory, also where the system Python refuses installs (PEP 668).
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$ST_DIR" "schemathesis==$ST_VERSION"
fi

cargo build --quiet -p en-server -p en-sim
bin=target/debug
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
spec=$PWD/spec/openapi.yaml
# Runs from the temporary directory: Schemathesis and Hypothesis leave caches where they run.
config=$PWD/.ci/schemathesis.toml
st() { (cd "$tmp" && PYTHONPATH=$ST_DIR python3 -m schemathesis.cli --config-file "$config" run "$spec" --no-color "$@"); }

data=$tmp/data
"$bin/en-server" init --dir "$data" >/dev/null
pub=$("$bin/en-sim" authority keygen --out "$tmp/authority.key")
"$bin/en-server" authority add moh.vn --public-key "$pub" --region VN --dir "$data" >/dev/null
"$bin/en-server" serve --dir "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  >"$tmp/out" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
  grep -q '^admin on ' "$tmp/out" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/log"; exit 1; }
  sleep 0.1
done
public_port=$(sed -n 's/^listening on .*://p' "$tmp/out")
admin_port=$(sed -n 's/^admin on .*://p' "$tmp/out")
[ -n "$admin_port" ] || { echo "en-server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
# The TLS certificate `init` made is for localhost.
common=(--checks all --tls-verify "$data/tls/cert.pem" --max-examples "$EXAMPLES" "$@")

status=0
# Uploads carry ed25519 signatures (a case or trace report, or a certificate bound to the keys by an
# HMAC) that only a registered authority's key can make; a phone upload or a revision (which also
# needs the revision token the server issued at upload) must also be exactly
# publish_body_bytes (8192) long, and a verify or certificate request exactly phone_request_bytes
# (1024) long, so that fake requests look like real ones. No schema can describe a signature or a
# serialized size, so a fuzzer's schema-valid requests are refused (400 malformed_report,
# upload_not_padded, 401 bad_signature...). The positive data acceptance check ("valid data must
# be accepted") is therefore off for these seven operations only; every other check runs on them
# (negative data rejection, status codes, content types, response schemas and headers, no 5xx,
# 405 with Allow for other methods...). See spec/api.md, "Checking the spec". Expected warnings:
# most generated requests are refused ("schema validation mismatch", "authentication failed"), and
# /v1/batches/{seq} and /v1/traces/batches/{seq} answer only 404 (a fresh server has published
# no batch; tests/e2e.rs and tests/venues.rs cover 200 and 304).
uploads='^/v1/(cases|cases/bulk|publish|revisions|traces|verify|certificate)$'
echo "== Schemathesis: public listener, uploads (all checks but positive data acceptance)"
st --url "https://localhost:$public_port" "${common[@]}" \
  --include-path-regex "$uploads" --exclude-checks positive_data_acceptance || status=1
echo "== Schemathesis: public listener, downloads and /healthz (all checks)"
# /metrics is not served here (404): the admin listener serves it, tested below.
st --url "https://localhost:$public_port" "${common[@]}" \
  --exclude-path-regex "$uploads|^/metrics\$" || status=1
echo "== Schemathesis: admin listener, /metrics and /healthz (all checks)"
st --url "https://localhost:$admin_port" "${common[@]}" \
  --include-path-regex '^/(metrics|healthz)$' || status=1

kill -TERM "$pid"
if wait "$pid"; then
  echo "== en-server stopped cleanly"
else
  echo "en-server exited with status $? after SIGTERM" >&2
  cat "$tmp/log" >&2
  status=1
fi
pid=
exit "$status"
