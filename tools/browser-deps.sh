#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard browser test when it is missing.
# Playwright drives it through executablePath; no browser download is needed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium not found and cannot be installed here: browser tests will be skipped" >&2
fi
