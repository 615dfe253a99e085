#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) on the stable toolchain, after seeding the
# corpora from spec/vectors. Installs cargo-fuzz if missing. Exits non-zero on the first crash
# (the crashing input is left in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh 20                 # CI smoke
#   fuzz/run.sh 600                # a deeper run
#   FUZZ_TARGETS="batch request" fuzz/run.sh 60
#   SANITIZER=address fuzz/run.sh  # AddressSanitizer via RUSTC_BOOTSTRAP=1 on stable
set -euo pipefail
SECONDS_PER_TARGET="${1:-60}"
cd "$(dirname "$0")"
TARGETS="${FUZZ_TARGETS:-diagnosis_key case_report certificate batch index risk_config gaen_export request venue_entry venue_tracing_secret venue_checkins venue_visit venue_trace_request venue_trace_report venue_trace_batch venue_match trace_index phone_state follower trace_follower verify_request self_report revision_token}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

SAN="${SANITIZER:-none}"
if [ "$SAN" != "none" ]; then export RUSTC_BOOTSTRAP=1; fi

echo "== seeding corpora from spec/vectors"
cargo run --quiet --release --bin seed_corpus -- "$PWD"

mkdir -p logs
total=0
for t in $TARGETS; do
  echo "== fuzzing $t for ${SECONDS_PER_TARGET}s (sanitizer: $SAN)"
  mkdir -p "corpus/$t"
  if ! cargo fuzz run -s "$SAN" "$t" "corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1; then
    tail -40 "logs/$t.log"
    echo "FUZZ CRASH in $t: see fuzz/artifacts/$t/ and fuzz/logs/$t.log"
    exit 1
  fi
  runs=$(grep -E "stat::number_of_executed_units" "logs/$t.log" | awk '{print $2}' | tail -1)
  echo "   $t: ${runs:-?} executions, no crash"
  total=$((total + ${runs:-0}))
done
echo "== all targets clean: $total executions in total"
