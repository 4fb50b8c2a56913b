#!/usr/bin/env bash
# Headless Chromium and chromedriver for the shop's end-to-end browser test.
#
#   bash scripts/browser.sh check     # exit status 0 if both are installed; prints their versions
#   bash scripts/browser.sh install   # installs Debian's chromium and chromium-driver if missing
#
# FACTUM_CHROMIUM and FACTUM_CHROMEDRIVER name other binaries (the test reads them too).
set -euo pipefail

chromium=${FACTUM_CHROMIUM:-/usr/bin/chromium}
chromedriver=${FACTUM_CHROMEDRIVER:-/usr/bin/chromedriver}

installed() { [ -x "$chromium" ] && [ -x "$chromedriver" ]; }

case ${1:-} in
  check)
    installed || exit 1
    "$chromium" --version 2>/dev/null || true
    "$chromedriver" --version 2>/dev/null || true
    ;;
  install)
    if installed; then
      echo "browser.sh: $chromium and $chromedriver are installed"
      exit 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "browser.sh: Chromium is missing; install Debian's chromium and chromium-driver (needs root and apt-get)" >&2
      exit 1
    fi
    echo "browser.sh: installing Debian's chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "browser.sh: apt-get update failed; trying the package lists already here" >&2
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    installed || { echo "browser.sh: the install did not provide $chromium and $chromedriver" >&2; exit 1; }
    ;;
  *)
    echo "usage: bash scripts/browser.sh check|install" >&2
    exit 2
    ;;
esac
