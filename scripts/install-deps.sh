#!/usr/bin/env bash
# install-deps.sh - install everything mailseal needs to build, test and demo
# on Debian 12, and create the system user the daemon drops to.
#
# The browser suite's own needs (browsers, drivers, npm modules) are
# installed by tests/browser/install.sh, called at the end.
#
# Idempotent: packages already installed are not touched, `apt-get update`
# runs at most once and only when something is missing.  Must run as root
# (it only checks, and succeeds, as another user when nothing is missing).
#
# Installing postfix never starts the system Postfix instance: a temporary
# policy-rc.d refuses service starts during the install, and debconf is
# preseeded to "Local only" (loopback, port 25) should it ever be started.
# The tests and the demo run private instances on other ports, so a system
# instance that was already running is left alone.  The system user and
# group mailseal are created, and postfix is added to group mailseal.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  libmilter-dev libyaml-dev libpcre2-dev libssl-dev libcmocka-dev libutf8proc-dev libhyperscan-dev
  # tests and demo
  postfix swaks python3 openssl ca-certificates
  opendkim opendkim-tools python3-dkim     # DKIM signing after the gateway (e2e_dkim)
  procps iproute2 bsdutils util-linux passwd adduser
  # packaging
  debhelper dpkg-dev fakeroot
  # hardening: fuzzing (scripts/fuzz.sh), static analysis (scripts/lint.sh), valgrind runs
  clang llvm cppcheck clang-tidy valgrind
)

say() { printf 'install-deps: %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "$(id -u)" -ne 0 ]; then
  if [ "${#missing[@]}" -gt 0 ]; then
    say "missing packages: ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  say "all packages present (not root: user 'mailseal' not checked)"
  exec bash "$(dirname "${BASH_SOURCE[0]}")/../tests/browser/install.sh"
fi

if [ "${#missing[@]}" -eq 0 ]; then
  say "all ${#PACKAGES[@]} packages already installed"
else
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix: configure for local delivery only, never ask.
  if command -v debconf-set-selections >/dev/null; then
    debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string localhost.localdomain
EOF
  fi
  # Keep package scripts from starting services (the system Postfix) while
  # we install; remove our policy afterwards, leave an existing one alone.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# mailseal install-deps: no service starts during install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
    trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
  fi
  say "apt-get update"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$own_policy" = 1 ]; then
    rm -f "$policy"
    own_policy=0
  fi
  say "installed ${#missing[@]} package(s)"
fi

# When we installed Postfix just now, keep the system instance (not needed)
# from coming up at boot under systemd; containers never start it anyway.
# A Postfix that was installed before is the machine owner's business.
# The same for OpenDKIM (the DKIM test starts its own).
for svc in postfix opendkim; do
  if [[ " ${missing[*]} " == *" $svc "* ]] && [ -d /run/systemd/system ] &&
     command -v systemctl >/dev/null &&
     systemctl is-enabled --quiet "$svc.service" 2>/dev/null; then
    say "disabling the system $svc service (tests use private instances)"
    systemctl disable --quiet "$svc.service" || true
  fi
done

if ! getent group mailseal >/dev/null; then
  say "creating system group mailseal"
  groupadd --system mailseal
fi
if ! getent passwd mailseal >/dev/null; then
  say "creating system user mailseal (no login shell, no home)"
  useradd --system --gid mailseal --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin --comment "mailseal milter" mailseal
fi
# Postfix reaches the daemon's unix socket through group mailseal (see
# packaging/postfix); the demo uses that set-up.
if getent passwd postfix >/dev/null &&
   ! id -nG postfix | tr ' ' '\n' | grep -qx mailseal; then
  say "adding user postfix to group mailseal (access to the milter socket)"
  usermod -a -G mailseal postfix
fi
# The browser suite's browsers, drivers, fonts and npm modules.
bash "$(dirname "${BASH_SOURCE[0]}")/../tests/browser/install.sh"
say "done"
