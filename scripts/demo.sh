#!/usr/bin/env bash
# demo.sh - run the gateway on this machine: a private Postfix on
# 127.0.0.1:2525 filtering through mailseal-milter (unix socket) and
# relaying everything to an SMTP sink that writes each message to
# demo/sink/NNN.eml.  External mail tagged [encrypt] leaves encrypted:
# partner.test's recipients open it with the demo passphrase (stored with
# `mailseal secret set`), others with a random passphrase that the sender
# is sent.  Stays in the foreground until Ctrl-C or SIGTERM, then stops
# everything it started, by PID.  Needs root (Postfix).
#
# usage: scripts/demo.sh [--check] [--no-build] [--milter PATH] [--dir DIR]
#                        [--port PORT]
#   --check     start, send messages with swaks, verify that they reached
#               the sink modified and encrypted (mailseal decrypt gives the
#               original back) and that a [block] message is refused, stop;
#               exit 0 when all is well, 1 otherwise
#   --no-build  do not run install-deps.sh or build; use --milter or
#               build/milter/mailseal-milter (and the mailseal tool beside
#               it, ../cli/mailseal) as they are
#   --milter    the daemon binary (default build/milter/mailseal-milter)
#   --dir       working directory (default demo/ in the repository, or
#               /tmp/mailseal-demo when users postfix and mailseal cannot
#               reach that; --check: a new temporary directory, removed
#               when the check passes); a previous demo's contents are replaced
#   --port      Postfix's port on 127.0.0.1 (default 2525; --check: a free one)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

check=0 build=1 milter="" dir="" port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --no-build) build=0; shift ;;
    --milter) milter=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it starts a private Postfix instance)"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
e2e="$root/tests/e2e"

if [ "$build" = 1 ]; then
  bash "$root/scripts/install-deps.sh"
  if [ -f build/CMakeCache.txt ]; then
    cmake -S "$root" -B build >/dev/null
  else
    cmake -S "$root" -B build -DMAILSEAL_WERROR=ON >/dev/null
  fi
  say "building mailseal-milter and mailseal in build/"
  cmake --build build -j"$(nproc)" --target mailseal-milter mailseal >/dev/null
fi
milter=${milter:-$root/build/milter/mailseal-milter}
[ -x "$milter" ] || die "no daemon at $milter (build it, or pass --milter PATH)"
milter=$(cd "$(dirname "$milter")" && pwd)/$(basename "$milter")
tool=$(dirname "$(dirname "$milter")")/cli/mailseal
[ -x "$tool" ] || die "no mailseal tool at $tool (build the target mailseal)"
demo_pass="open sesame, partner"
if [ -z "$port" ]; then
  if [ "$check" = 1 ]; then
    port=$("$py" -c 'import sys; sys.path.insert(0, sys.argv[1]); import mailseal_e2e as e; print(e.free_port())' "$e2e")
  else
    port=2525
  fi
fi

# The daemon drops to user mailseal; Postfix reaches its socket through
# group mailseal, as in packaging/postfix.
run_user=""
if getent passwd mailseal >/dev/null; then
  run_user=mailseal
  id -nG postfix | tr ' ' '\n' | grep -qx mailseal ||
    die "user postfix is not in group mailseal (run scripts/install-deps.sh)"
fi

# reachable DIR - can the unprivileged users (Postfix's, the daemon's) get to DIR?
reachable() {
  local u
  for u in postfix $run_user; do
    runuser -u "$u" -- test -x "$1" || return 1
  done
}

# claim DIR - make DIR an empty demo directory (mode 0755); only a
# directory that a demo made (it holds .mailseal-demo) is ever cleared.
claim() {
  local d=$1 f pid
  mkdir -p "$d"
  if [ -n "$(ls -A "$d")" ]; then
    [ -e "$d/.mailseal-demo" ] || die "$d is not empty and not a demo directory: refusing to clear it"
    for f in "$d"/*.pid; do
      [ -e "$f" ] || continue
      pid=$(head -n1 "$f" 2>/dev/null || true)
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        die "a demo seems to be running in $d (pid $pid from $(basename "$f")); stop it first"
      fi
    done
    "$py" "$e2e/mailseal_e2e.py" postfix-stop "$d/postfix" >/dev/null 2>&1 || true
    rm -rf "${d:?}"/* "$d"/.mailseal-demo
  fi
  chmod 0755 "$d"
  touch "$d/.mailseal-demo"
}

# The working directory: users postfix and mailseal must reach it.
tmp_dir=""
if [ -z "$dir" ]; then
  if [ "$check" = 1 ]; then
    tmp_dir=$(mktemp -d /tmp/mailseal-demo-check.XXXXXX)
    dir=$tmp_dir
  else
    dir="$root/demo"
  fi
fi
claim "$dir"
dir=$(cd "$dir" && pwd)
if ! reachable "$dir"; then
  [ "$dir" = "$root/demo" ] ||
    die "$dir cannot be reached by users postfix/mailseal (a parent directory is private)"
  say "$dir cannot be reached by users postfix/mailseal (a parent directory is private): using /tmp/mailseal-demo"
  dir=/tmp/mailseal-demo
  claim "$dir"
fi
queue="$dir/postfix/queue"
sockdir="$queue/mailseal"
mkdir -p "$sockdir" "$dir/spool" "$dir/sink"
if [ -n "$run_user" ]; then
  chown "$run_user:$run_user" "$sockdir" "$dir/spool"
  chmod 0750 "$sockdir"
  chmod 0700 "$dir/spool"
fi

cat >"$dir/mailseal.yaml" <<EOF
# mailseal demo configuration (written by scripts/demo.sh)
milter:
  socket: "unix:$sockdir/mailseal.sock"
  user: "$run_user"
  pid_file: "$dir/mailseal-milter.pid"
  log_level: info
organization:
  name: "Example Corp"
  domains: [example.com]
rules: rules.yaml
spool:
  directory: "$dir/spool"
loop:
  secret_file: "$dir/loop.key"
envelope:
  secrets_file: "$dir/secrets"
notify:
  relay: "127.0.0.1:$port"
  from: "mailseal@example.com"
EOF
cat >"$dir/rules.yaml" <<'EOF'
# mailseal demo rules (written by scripts/demo.sh)
rules:
  - name: block
    description: "Refuse mail whose subject says [block]"
    priority: 10
    stop: true
    if:
      subject_contains: "[block]"
    then:
      reject: {code: 550, status: "5.7.1", message: "Blocked by the mailseal demo policy"}

  - name: hold
    description: "Keep mail whose subject says [hold] in Postfix's hold queue"
    priority: 20
    if:
      subject_contains: "[hold]"
    then:
      quarantine: "held for review by the mailseal demo"

  - name: encrypt-external
    description: "Encrypt mail to outside recipients whose subject says [encrypt]"
    priority: 25
    if:
      subject_contains: "[encrypt]"
      recipient_scope: external
    then:
      remove_subject_tag: "[encrypt]"
      encrypt: {}

  - name: secure-external
    description: "Mark confidential mail that leaves the organization"
    priority: 30
    if:
      subject_contains: ["[secure]", "confidential"]
      recipient_scope: external
    then:
      prepend_subject: "[Secure] "
      add_header: {name: X-Mailseal-Class, value: confidential}
EOF
chmod 0644 "$dir/mailseal.yaml" "$dir/rules.yaml"
# The recipient passphrase of every partner.test address; the daemon's
# group may read the store, nobody else.
printf '%s\n' "$demo_pass" >"$dir/passphrase.txt"
chmod 0600 "$dir/passphrase.txt"
rm -f "$dir/secrets"
"$tool" secret set -f "$dir/secrets" --passphrase-file "$dir/passphrase.txt" @partner.test >/dev/null ||
  die "could not store the demo passphrase"
if [ -n "$run_user" ]; then
  chown "root:$run_user" "$dir/secrets"
  chmod 0640 "$dir/secrets"
fi

sink_pid="" milter_pid=""
# stop_all - stop what we started: Postfix, then the daemon, then the sink
stop_all() {
  trap - EXIT INT TERM
  "$py" "$e2e/mailseal_e2e.py" postfix-stop "$dir/postfix" >/dev/null 2>&1 || true
  local pid
  for pid in $milter_pid $sink_pid; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -f "$dir"/*.pid
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. the sink
if [ "$check" = 1 ]; then sink_out="$dir/sink.log"; else sink_out=/dev/stdout; fi
"$py" "$e2e/sink.py" --dir "$dir/sink" --port-file "$dir/sink.port" >>"$sink_out" 2>&1 &
sink_pid=$!
echo "$sink_pid" >"$dir/sink.pid"
for _ in $(seq 1 100); do [ -s "$dir/sink.port" ] && break; sleep 0.1; done
[ -s "$dir/sink.port" ] || die "the sink did not start"
sink_port=$(cat "$dir/sink.port")

# 2. the daemon
"$milter" -f -c "$dir/mailseal.yaml" >>"$dir/milter.log" 2>&1 &
milter_pid=$!
for _ in $(seq 1 150); do
  [ -S "$sockdir/mailseal.sock" ] && break
  kill -0 "$milter_pid" 2>/dev/null || break
  sleep 0.2
done
if ! [ -S "$sockdir/mailseal.sock" ] || ! kill -0 "$milter_pid" 2>/dev/null; then
  cat "$dir/milter.log" >&2
  die "mailseal-milter did not start (log above, $dir/milter.log)"
fi

# 3. Postfix, with the socket path relative to its queue directory
"$py" "$e2e/mailseal_e2e.py" postfix-start "$dir/postfix" --port "$port" \
      --relay-port "$sink_port" --milter "unix:mailseal/mailseal.sock" >/dev/null ||
  die "Postfix did not start (see $dir/postfix/log/maillog)"

swaks_cmd="swaks --server 127.0.0.1:$port --from alice@example.com --to bob@partner.test --header 'Subject: [secure] Q3 numbers' --body 'hello'"

if [ "$check" = 1 ]; then
  say "check: sending a [secure] message to an external recipient"
  out=$(swaks --server "127.0.0.1:$port" --from alice@example.com --to bob@partner.test \
              --header 'Subject: [secure] Q3 numbers' --body 'hello' 2>&1) ||
    { echo "$out" >&2; die "check: swaks failed"; }
  for _ in $(seq 1 150); do [ -e "$dir/sink/001.eml" ] && break; sleep 0.2; done
  [ -e "$dir/sink/001.eml" ] || { tail -n 30 "$dir/milter.log" "$dir/postfix/log/maillog" >&2; die "check: nothing reached the sink"; }
  ok=1
  grep -q '^Subject: \[Secure\] \[secure\] Q3 numbers' "$dir/sink/001.eml" ||
    { say "check: FAIL: subject not prefixed"; ok=0; }
  grep -q '^X-Mailseal-Class: confidential' "$dir/sink/001.eml" ||
    { say "check: FAIL: no X-Mailseal-Class header"; ok=0; }

  say "check: sending an [encrypt] message to an external recipient"
  out=$(swaks --server "127.0.0.1:$port" --from alice@example.com --to bob@partner.test \
              --header 'Subject: [encrypt] payroll' --body 'demo body: salaries 4711' 2>&1) ||
    { echo "$out" >&2; die "check: swaks failed"; }
  for _ in $(seq 1 150); do [ -e "$dir/sink/002.eml" ] && break; sleep 0.2; done
  if ! [ -e "$dir/sink/002.eml" ]; then
    say "check: FAIL: the encrypted message did not reach the sink"; ok=0
  else
    grep -q 'filename="message.html"' "$dir/sink/002.eml" ||
      { say "check: FAIL: no message.html in what left"; ok=0; }
    ! grep -q 'salaries 4711' "$dir/sink/002.eml" ||
      { say "check: FAIL: the body left in clear"; ok=0; }
    "$tool" decrypt --passphrase-file "$dir/passphrase.txt" "$dir/sink/002.eml" 2>&1 |
      grep -q 'demo body: salaries 4711' ||
      { say "check: FAIL: mailseal decrypt did not give the message back"; ok=0; }
  fi

  say "check: sending a [block] message"
  out=$(swaks --server "127.0.0.1:$port" --from alice@example.com --to bob@partner.test \
              --header 'Subject: [block] me' --body 'hello' 2>&1) || true
  echo "$out" | grep -q '<\*\* *550 5\.7\.1 Blocked by the mailseal demo policy' ||
    { echo "$out" >&2; say "check: FAIL: [block] message not refused with 550 5.7.1"; ok=0; }

  if [ "$ok" = 1 ]; then
    say "check: OK (the sink got the message marked [Secure] and X-Mailseal-Class: confidential, and the [encrypt] one encrypted; it decrypts)"
    if [ -n "$tmp_dir" ]; then
      stop_all
      rm -rf "$tmp_dir"
    fi
    exit 0
  fi
  say "check: FAILED; files kept in $dir"
  sed -n '1,40p' "$dir/sink/001.eml" >&2
  tail -n 30 "$dir/milter.log" >&2
  exit 1
fi

cat <<EOF

  mailseal demo is running.

  Send mail to    127.0.0.1:$port   (private Postfix, milter: mailseal-milter pid $milter_pid)
  Results land in $dir/sink/NNN.eml (every message Postfix relays)
  Quarantined     postqueue -c $dir/postfix/etc -p   (hold queue)
  Logs            $dir/milter.log  and  $dir/postfix/log/maillog
  Rules           $dir/rules.yaml  (edit, then: kill -USR1 $milter_pid)

  Try:
    swaks --server 127.0.0.1:$port --from alice@example.com --to bob@partner.test --header 'Subject: [encrypt] payroll' --body 'secret'
        leaves encrypted.  Take the viewer out of what the sink got and open it in a
        browser with the passphrase "$demo_pass" (every partner.test address has it):
        $py -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); open(sys.argv[2],"wb").write(next(p for p in m.walk() if p.get_filename()=="message.html").get_payload(decode=True))' $dir/sink/NNN.eml /tmp/message.html
        or read it here: $tool decrypt --passphrase-file $dir/passphrase.txt $dir/sink/NNN.eml
    swaks --server 127.0.0.1:$port --from alice@example.com --to carol@elsewhere.test --header 'Subject: [encrypt] payroll' --body 'secret'
        no stored passphrase for carol: the sink also gets alice's notification with a
        one-time passphrase that opens it
    $swaks_cmd
    swaks --server 127.0.0.1:$port --from alice@example.com --to bob@example.com --header 'Subject: [secure] internal' --body 'hello'
    swaks --server 127.0.0.1:$port --from alice@example.com --to bob@partner.test --header 'Subject: [block] me' --body 'hello'
    swaks --server 127.0.0.1:$port --from alice@example.com --to bob@partner.test --header 'Subject: [hold] me' --body 'hello'

  Ctrl-C stops everything.

EOF
while kill -0 "$milter_pid" 2>/dev/null && kill -0 "$sink_pid" 2>/dev/null; do
  sleep 1
done
die "mailseal-milter or the sink stopped unexpectedly (see $dir/milter.log)"
