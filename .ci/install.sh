#!/usr/bin/env bash
# System packages the tests need, on a fresh Debian machine (CI runs as root).
set -euo pipefail
need=()
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "system packages present: strace $(strace --version | head -1 | awk '{print $NF}')"
