#!/usr/bin/env bash
# System packages the tests need, on a fresh Debian machine (CI runs as root).
set -euo pipefail
need=()
command -v strace >/dev/null || need+=(strace)
# The console's browser test (tests/console.rs): headless Chromium driven over WebDriver.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# The PostgreSQL store's tests (server/tests/postgres_store.rs, trace_store.rs,
# tests/replicas.rs) start their own throwaway cluster with initdb + postgres (tests/common/pg.rs).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# The CDN origin test (tests/cdn.rs) serves the objects directory with a real nginx and the
# repository's docs/nginx-objects.conf.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "system packages present: strace $(strace --version | head -1 | awk '{print $NF}'), $(chromium --version 2>/dev/null | head -1), $(chromedriver --version | awk '{print $1, $2}'), PostgreSQL $(ls -d /usr/lib/postgresql/*/ | xargs -n1 basename | sort -n | tail -1), $(PATH=$PATH:/usr/sbin nginx -v 2>&1)"
