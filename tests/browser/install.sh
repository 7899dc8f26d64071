#!/usr/bin/env bash
# install.sh - what the browser suite (test_browsers.py, DRIVERS.md) needs on
# Debian 12: the browsers, their drivers, a virtual display, fonts for
# Cyrillic and Japanese text, Node.js with npm, and the npm modules of
# package-lock.json in tests/browser/node_modules.
#
# Idempotent: only missing packages are installed (`apt-get update` at most
# once, only then); `npm ci` runs only when node_modules is missing or older
# than package-lock.json.  Run as root (as another user it only checks, and
# succeeds when nothing is missing).  Called by scripts/install-deps.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PACKAGES=(
  chromium                 # driven by playwright-core (drive_chromium.mjs)
  firefox-esr              # driven by puppeteer-core over WebDriver BiDi (drive_firefox.mjs)
  webkit2gtk-driver        # WebKitWebDriver and MiniBrowser (drive_webkit.py)
  xvfb                     # xvfb-run: WebKitGTK needs a display
  python3-selenium         # drive_webkit.py
  fonts-noto-core fonts-noto-cjk
)

say() { printf 'browser install: %s\n' "$*"; }

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
# Node.js may come from elsewhere (NodeSource's nodejs carries its own npm
# and conflicts with Debian's npm): only the missing commands are installed.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

stamp=$here/node_modules/.package-lock.json      # written by npm with the modules
need_npm=0
if [ ! -e "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
  need_npm=1
fi

if [ "$(id -u)" -ne 0 ]; then
  if [ "${#missing[@]}" -gt 0 ] || [ "$need_npm" = 1 ]; then
    say "missing: ${missing[*]:-}$([ "$need_npm" = 1 ] && echo ' npm modules'); run this script as root" >&2
    exit 1
  fi
  say "everything present"
  exit 0
fi

if [ "${#missing[@]}" -eq 0 ]; then
  say "all browser packages already installed"
else
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  say "installed ${#missing[@]} package(s)"
fi

if [ "$need_npm" = 1 ]; then
  say "npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
else
  say "npm modules up to date"
fi
