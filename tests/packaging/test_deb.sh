#!/usr/bin/env bash
# test_deb.sh - ctest entry packaging_deb: build the Debian package with
# scripts/build-deb.sh into a temporary directory and check it without
# installing it: the control fields, the exact file list, the conffiles, the
# maintainer scripts (service enabled, not started), the shipped files against
# the sources, lintian when it is installed, and the extracted mailseal-milter
# (-V, and -t on the extracted /etc/mailseal/mailseal.yaml).
#
# The source tree is $MAILSEAL_SOURCE_DIR (set by ctest), else the one this
# script lives in.  Builds with DEB_BUILD_OPTIONS=parallel=2 unless set.
# Prints one line per check and "N passed, M failed" at the end; exits 1 when
# a check failed, 77 (skipped) when the packaging tools are missing and this
# user cannot install them.
set -uo pipefail
export LC_ALL=C

src=${MAILSEAL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2}

passed=0
failed=0
# ok NAME / fail NAME DETAIL - record one check
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }
# check NAME COMMAND... - one check: passes when COMMAND exits 0
check() {
  local name=$1; shift
  local err
  if err=$("$@" 2>&1); then ok "$name"; else fail "$name" "${err:-exit status $?}"; fi
}
# same NAME EXPECTED ACTUAL - one check: passes when the two strings are equal
same() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}
# finish - the closing line and the exit status
finish() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$(id -u)" -ne 0 ] &&
   ! { command -v dpkg-buildpackage && command -v dh; } >/dev/null 2>&1; then
  echo "skipped: dpkg-buildpackage/debhelper missing and not root (run scripts/install-deps.sh as root)"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailseal-test-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- the versions the package must carry -------------------------------
cmake_version=$(sed -n 's/^project(mailseal VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
check "changelog version ${deb_version} is the CMake version ${cmake_version} plus a revision" \
  test "${deb_version%-*}" = "$cmake_version" -a -n "$cmake_version"

# --- build --------------------------------------------------------------
start=$(date +%s)
deb=$(bash "$src/scripts/build-deb.sh" -o "$tmp/out" 2>"$tmp/build.log"); rc=$?
if [ "$rc" -ne 0 ]; then
  fail "scripts/build-deb.sh" "exit status $rc; its output:"
  cat "$tmp/build.log"
  finish
fi
ok "scripts/build-deb.sh built $(basename "$deb") in $(( $(date +%s) - start ))s"
same "printed path is \$out/mailseal_${deb_version}_${arch}.deb" \
  "$tmp/out/mailseal_${deb_version}_${arch}.deb" "$deb"
check "the .deb exists" test -f "$deb"

# --- control fields -----------------------------------------------------
# field NAME - one control field of the package
field() { dpkg-deb -f "$deb" "$1"; }
same "Package: mailseal" mailseal "$(field Package)"
same "Version: $deb_version" "$deb_version" "$(field Version)"
same "Architecture: $arch" "$arch" "$(field Architecture)"
same "Recommends: postfix | sendmail-bin" "postfix | sendmail-bin" "$(field Recommends)"
depends=$(field Depends)
echo "     Depends: $depends"
for lib in libc6 libmilter1.0.1 libssl3 libyaml-0-2 libutf8proc2 adduser; do
  check "Depends names $lib" \
    grep -Eq "(^|, )${lib//./\\.}( \(|,|$)" <<<"$depends"
done

# --- file list: exactly these files, with these modes ----------------
expected_files="-rw-r--r-- ./etc/mailseal/mailseal.yaml
-rw-r--r-- ./etc/mailseal/rules.d/10-examples.yaml
-rw-r--r-- ./lib/systemd/system/mailseal-milter.service
-rwxr-xr-x ./usr/bin/mailseal
-rwxr-xr-x ./usr/sbin/mailseal-milter
-rw-r--r-- ./usr/share/doc/mailseal/README.md
-rw-r--r-- ./usr/share/doc/mailseal/changelog.Debian.gz
-rw-r--r-- ./usr/share/doc/mailseal/copyright
-rw-r--r-- ./usr/share/doc/mailseal/examples/dkim-after-mailseal.md
-rw-r--r-- ./usr/share/doc/mailseal/examples/mailseal.mc
-rw-r--r-- ./usr/share/doc/mailseal/examples/mailseal.yaml.example
-rw-r--r-- ./usr/share/doc/mailseal/examples/main.cf.dkim.snippet
-rw-r--r-- ./usr/share/doc/mailseal/examples/main.cf.snippet
-rw-r--r-- ./usr/share/doc/mailseal/examples/opendkim.conf.snippet
-rw-r--r-- ./usr/share/lintian/overrides/mailseal
-rw-r--r-- ./usr/share/man/man1/mailseal.1.gz
-rw-r--r-- ./usr/share/man/man8/mailseal-milter.8.gz"
actual_files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $6 }' | sort)
check "file list is exactly the expected one" \
  diff -u <(printf '%s\n' "$expected_files" | sort) <(printf '%s\n' "$actual_files")
check "every file is owned by root/root" \
  test -z "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"')"

# --- control archive: conffiles and maintainer scripts ----------------
dpkg-deb -e "$deb" "$tmp/control"
check "conffiles are exactly the two files under /etc/mailseal" \
  diff -u <(printf '/etc/mailseal/mailseal.yaml\n/etc/mailseal/rules.d/10-examples.yaml\n') \
          "$tmp/control/conffiles"
postinst=$tmp/control/postinst
check "postinst creates the system user mailseal" \
  grep -q 'adduser --system --group .*--no-create-home --home /nonexistent' "$postinst"
check "postinst sets root:mailseal 0640 on the configuration" \
  grep -q 'chown root:mailseal' "$postinst"
for d in "/var/spool/mailseal mailseal mailseal 0700" "/var/lib/mailseal root mailseal 0750" \
         "/var/spool/postfix/mailseal mailseal mailseal 0750"; do
  check "postinst makes ${d%% *} (${d#* })" grep -q "make_dir $d\$" "$postinst"
done
check "postinst adds postfix to group mailseal" grep -q 'adduser --quiet postfix mailseal' "$postinst"
check "postinst enables mailseal-milter.service" \
  grep -q "deb-systemd-helper enable 'mailseal-milter.service'" "$postinst"
check "postinst never starts it (only try-restart on upgrade)" \
  sh -c '! grep -Eq "deb-systemd-invoke (start|restart|\\\$_dh_action)" "$1" &&
         grep -q "deb-systemd-invoke try-restart .mailseal-milter.service." "$1"' sh "$postinst"
check "no preinst stops it on upgrade" test ! -e "$tmp/control/preinst"
check "prerm stops it on removal" \
  grep -q 'deb-systemd-invoke stop mailseal-milter.service' "$tmp/control/prerm"
check "postrm purge removes the spool, state and socket directories" \
  grep -q 'rm -rf /var/spool/mailseal /var/lib/mailseal /var/spool/postfix/mailseal' "$tmp/control/postrm"
for s in postinst prerm postrm; do
  check "$s is valid sh" sh -n "$tmp/control/$s"
done

# --- the shipped files are the repository's -------------------------
root=$tmp/root
dpkg-deb -x "$deb" "$root"
while read -r from to; do
  check "$to is $from" cmp "$src/$from" "$root/$to"
done <<'EOF'
packaging/etc/mailseal.yaml etc/mailseal/mailseal.yaml
packaging/etc/rules.d/10-examples.yaml etc/mailseal/rules.d/10-examples.yaml
packaging/systemd/mailseal-milter.service lib/systemd/system/mailseal-milter.service
README.md usr/share/doc/mailseal/README.md
packaging/postfix/main.cf.snippet usr/share/doc/mailseal/examples/main.cf.snippet
packaging/postfix/main.cf.dkim.snippet usr/share/doc/mailseal/examples/main.cf.dkim.snippet
packaging/postfix/opendkim.conf.snippet usr/share/doc/mailseal/examples/opendkim.conf.snippet
packaging/postfix/dkim-after-mailseal.md usr/share/doc/mailseal/examples/dkim-after-mailseal.md
packaging/sendmail/mailseal.mc usr/share/doc/mailseal/examples/mailseal.mc
config/mailseal.yaml.example usr/share/doc/mailseal/examples/mailseal.yaml.example
EOF
check "copyright states the MIT license" \
  grep -q '^License: MIT$' "$root/usr/share/doc/mailseal/copyright"

# --- lintian, when installed ------------------------------------------
if command -v lintian >/dev/null 2>&1; then
  check "lintian: no errors or warnings" \
    lintian --fail-on error,warning "$deb"
else
  echo "skip lintian (not installed)"
fi

# --- the extracted daemon ---------------------------------------------
milter=$root/usr/sbin/mailseal-milter
check "hardened: PIE and BIND_NOW" \
  sh -c 'readelf -d "$1" | grep -q "Flags:.*NOW.*PIE"' sh "$milter"
check "every shared library resolves" sh -c '! ldd "$1" | grep -q "not found"' sh "$milter"
out=$("$milter" -V 2>&1); rc=$?
check "mailseal-milter -V says $cmake_version ($out)" \
  test "$rc" = 0 -a "${out#mailseal-milter "$cmake_version" (}" != "$out"
out=$("$milter" -t -c "$root/etc/mailseal/mailseal.yaml" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/     /'
check "mailseal-milter -t: the shipped configuration is valid" \
  test "$rc" = 0 -a "${out/configuration valid/}" != "$out"
# -t must be able to fail: the same configuration with a misspelt key.
sed 's/^organization:/organisation:/' "$root/etc/mailseal/mailseal.yaml" >"$root/etc/mailseal/broken.yaml"
out=$("$milter" -t -c "$root/etc/mailseal/broken.yaml" 2>&1); rc=$?
check "mailseal-milter -t refuses a misspelt key (exit $rc)" \
  test "$rc" = 1 -a "${out/unknown key \'organisation\'/}" != "$out"

# --- the extracted tool ------------------------------------------------
tool=$root/usr/bin/mailseal
out=$("$tool" -V 2>&1); rc=$?
same "mailseal -V" "0 mailseal $cmake_version" "$rc $out"
out=$("$tool" check -c "$root/etc/mailseal/mailseal.yaml" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/     /'
same "mailseal check: the shipped configuration is valid (exit status)" 0 "$rc"
# Every subcommand in the tool's usage is in its manual page.
commands=$("$tool" -h | sed -n 's/^\(usage:\)\{0,1\} *mailseal \([a-z][a-z-]*\).*/\2/p' | sort -u)
check "mailseal -h lists subcommands ($(echo $commands))" test -n "$commands"
for c in $commands; do
  check "mailseal.1 documents 'mailseal $c'" \
    sh -c 'zcat "$1" | grep -q "^\.SY \"mailseal $2\""' sh "$root/usr/share/man/man1/mailseal.1.gz" "$c"
done

finish
