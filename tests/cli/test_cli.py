"""test_cli - the `mailseal` tool, run as a black box (Python standard library only).

Each test writes a configuration and rules into a temporary directory and runs the
built binary (MAILSEAL_CLI):
- `mailseal check`: exit codes 0/1/2, the one-line summary per rules source, and the
  exact FILE:LINE:COLUMN messages of several errors in one run (unknown condition with
  did-you-mean, bad reject code, duplicate rule names across two files and across two
  sources), draft rules checked while the configured ones are broken;
- `mailseal test --json`, parsed with the json module: an RFC 2047 "[ENCRYPT] Q3"
  subject to an external recipient matches the tag rule (and says on what), the same to
  an internal recipient does not, a reject rule gives outcome reject with its reply,
  --rules tries a draft file instead of the configured rules, a message beyond
  limits.max_headers and a base64 forwarded message (opaque_part) report
  "incomplete", the text report;
- every .eml of ../shared/corpus (skipped when absent) gives exit 0 and one valid JSON
  object.
"""
import base64
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

CLI = os.environ.get("MAILSEAL_CLI", "mailseal")
SOURCE = os.environ.get("MAILSEAL_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.normpath(os.path.join(SOURCE, "..", "shared", "corpus"))

CONFIG = """\
organization:
  name: Example Corp
  domains: [example.com, "*.example.com"]
rules: rules.d
spool:
  directory: {spool}
limits:
  max_headers: 20
"""

RULES = """\
rules:
  - name: tag-encrypt
    priority: 10
    if:
      subject_contains: "[encrypt]"
      recipient_scope: external
    then:
      prepend_subject: "[Secure] "
      add_header: {name: X-Mailseal-Class, value: confidential}
  - name: block
    priority: 20
    if: {subject_contains: "[block]"}
    then:
      reject: {code: 551, status: "5.7.9", message: "Not allowed here"}
  - name: watch-q3
    mode: audit
    if: {subject_contains: q3}
    then: {add_header: {name: X-Audit, value: q3}}
"""

DRAFT = """\
rules:
  - name: draft-hello
    if: {subject_contains: hello}
    then: {quarantine: "draft says hold"}
"""


def run(*args, stdin=None):
    """Run the tool; (exit status, stdout, stderr)."""
    p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def message(subject, extra_headers=0, body="hello\n"):
    """A small message with an (already encoded) subject and filler headers before it."""
    lines = ["From: Alice <alice@example.com>", "To: Bob <bob@partner.test>",
             "Message-ID: <1@example.com>"]
    lines += ["X-Filler-%d: %d" % (i, i) for i in range(extra_headers)]
    lines += ["Subject: " + subject, "MIME-Version: 1.0",
              "Content-Type: text/plain; charset=utf-8", ""]
    return ("\r\n".join(lines) + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ms-cli-")
        self.dir = self.tmp.name
        os.mkdir(os.path.join(self.dir, "rules.d"))
        os.mkdir(os.path.join(self.dir, "spool"), 0o700)
        self.config = self.write("mailseal.yaml", CONFIG.format(spool=os.path.join(self.dir, "spool")))
        self.write("rules.d/10-main.yaml", RULES)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    def dry_run(self, msg, to, *extra):
        """`mailseal test --json` on msg; the parsed object."""
        path = self.write("msg.eml", msg)
        code, out, err = run("test", "-c", self.config, "--from", "alice@example.com",
                             "--to", to, "--json", *extra, path)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.count("\n"), 1, out)
        return json.loads(out)

    # ---- check ----

    def test_check_valid(self):
        code, out, err = run("check", "-c", self.config)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "%s: configuration valid\n%s: 3 rule(s), valid\n"
                         % (self.config, os.path.join(self.dir, "rules.d")))

    def test_check_errors_in_one_run(self):
        bad = os.path.join(self.dir, "bad")
        self.write("bad/a.yaml", textwrap.dedent("""\
            rules:
              - name: one
                if: {subjct_contains: "[x]"}
                then: {add_header: {name: X-A, value: a}}
              - name: two
                if: {subject_contains: "[y]"}
                then:
                  reject: {code: 450, message: "no"}
            """))
        self.write("bad/b.yaml", textwrap.dedent("""\
            rules:
              - name: three
                if: {subject_contains: "[z]"}
                then: {add_header: {name: X-B, value: b}}
              - name: two
                if: {subject_contains: "[w]"}
                then: {add_header: {name: X-C, value: c}}
            """))
        code, out, err = run("check", "-c", self.config, bad)
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        a, b = os.path.join(bad, "a.yaml"), os.path.join(bad, "b.yaml")
        self.assertEqual(err.splitlines(), [
            "%s:3:10: unknown condition 'subjct_contains' (did you mean 'subject_contains'?)" % a,
            "%s:8:22: reject.code: 450 is out of range (allowed 500..599)" % a,
            "%s:5:11: duplicate rule name 'two' (first defined at %s:5:11)" % (b, a),
        ])

    def test_check_sources_and_duplicates_across_them(self):
        one = self.write("one.yaml", DRAFT)
        two = self.write("two.yaml", DRAFT.replace("{subject_contains: hello}", "{subject_contains: bye}"))
        three = self.write("three.yaml", RULES)
        code, out, err = run("check", "-c", self.config, one, three)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "%s: configuration valid\n%s: 1 rule(s), valid\n%s: 3 rule(s), valid\n"
                         % (self.config, one, three))
        code, out, err = run("check", "-c", self.config, one, two)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "%s:2:11: duplicate rule name 'draft-hello' (first defined at %s:2:11)\n"
                         % (two, one))

    def test_check_config_errors_and_usage(self):
        broken = self.write("broken.yaml", "organization: {name: x, domains: [example.com]}\n"
                            "rules: rules.d\nlimits: {max_headers: 0}\n")
        code, out, err = run("check", "-c", broken)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("%s:3:" % broken, err)
        self.assertIn("max_headers", err)
        # the configured rules broken: a draft can still be checked against the configuration
        self.write("rules.d/20-bad.yaml", "rules:\n  - name: x\n    if: {nope: 1}\n    then: {}\n")
        code, out, err = run("check", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertIn("20-bad.yaml:3:10: unknown condition 'nope' (allowed: subject_contains, recipient_scope, ",
                      err)
        draft = self.write("draft.yaml", DRAFT)
        code, out, err = run("check", "-c", self.config, draft)
        self.assertEqual((code, err), (0, ""), err)
        self.assertIn("%s: 1 rule(s), valid" % draft, out)
        for args in (["check", "-x"], ["frobnicate"], [], ["test", "-c", self.config, "x.eml"]):
            code, out, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertIn("usage:", err)
        code, out, err = run("-h")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("mailseal check", out)
        self.assertIn("mailseal test", out)

    # ---- test ----

    def test_encoded_tag_to_external(self):
        r = self.dry_run(message("=?UTF-8?Q?=5BENCRYPT=5D_Q3?="), "bob@partner.test")
        self.assertEqual(r["matched"], ["tag-encrypt"])
        self.assertEqual(r["audit"], ["watch-q3"])
        self.assertEqual(r["actions"], ["add_header", "prepend_subject"])
        self.assertEqual(r["outcome"], "accept (modified)")
        self.assertIs(r["encrypt"], False)
        self.assertIsNone(r["reject"])
        self.assertEqual(r["incomplete"], [])
        self.assertEqual(r["recipients"], [{"address": "bob@partner.test", "scope": "external"}])
        self.assertEqual(r["explanations"], [
            {"rule": "tag-encrypt", "condition": "subject_contains", "excerpt": ">>[encrypt]<< q3"},
            {"rule": "tag-encrypt", "condition": "recipient_scope",
             "excerpt": "external recipient bob@partner.test"},
            {"rule": "watch-q3", "condition": "subject_contains", "excerpt": "[encrypt] >>q3<<"},
        ])

    def test_encoded_tag_to_internal(self):
        r = self.dry_run(message("=?UTF-8?Q?=5BENCRYPT=5D_Q3?="), "carol@sub.example.com")
        self.assertEqual(r["matched"], [])
        self.assertEqual(r["actions"], [])
        self.assertEqual(r["outcome"], "accept")
        self.assertEqual(r["recipients"], [{"address": "carol@sub.example.com", "scope": "internal"}])
        # mixed recipients: one external is enough, and it is the one named
        r = self.dry_run(message("=?UTF-8?Q?=5BENCRYPT=5D_Q3?="), "carol@example.com,bob@partner.test")
        self.assertEqual(r["matched"], ["tag-encrypt"])
        self.assertIn({"rule": "tag-encrypt", "condition": "recipient_scope",
                       "excerpt": "external recipient bob@partner.test"}, r["explanations"])

    def test_reject(self):
        r = self.dry_run(message("Please [BLOCK] this"), "bob@partner.test")
        self.assertEqual(r["matched"], ["block"])
        self.assertEqual(r["outcome"], "reject")
        self.assertEqual(r["reject"], {"code": 551, "status": "5.7.9", "text": "Not allowed here",
                                       "rule": "block"})
        self.assertEqual(r["actions"], ["reject"])

    def test_draft_rules(self):
        draft = self.write("draft.yaml", DRAFT)
        r = self.dry_run(message("[encrypt] hello"), "bob@partner.test", "--rules", draft)
        self.assertEqual(r["matched"], ["draft-hello"])
        self.assertEqual(r["audit"], [])
        self.assertEqual(r["actions"], ["quarantine"])
        self.assertEqual(r["outcome"], "quarantine")
        self.assertEqual(r["quarantine"], "draft says hold")
        # a broken draft: its errors, exit 1
        bad = self.write("bad.yaml", "rules:\n  - name: x\n    if: {subject_contains: []}\n    then: {}\n")
        code, out, err = run("test", "-c", self.config, "--rules", bad, "--from", "a@example.com",
                             "--to", "b@partner.test", "--json", self.write("m.eml", message("x")))
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "%s:3:28: subject_contains: expected at least one phrase\n" % bad)

    def test_new_actions_and_encrypt(self):
        draft = self.write("actions.yaml", textwrap.dedent("""\
            rules:
              - name: strip
                priority: 1
                if: {subject_contains: "[encrypt]"}
                then:
                  remove_subject_tag: ["[encrypt]", "[secure]"]
                  remove_header: X-Filler-0
                  bcc: [audit@example.com]
                  log: "tag stripped"
              - name: seal
                priority: 2
                if: {subject_contains: "[seal]"}
                then: {encrypt: {template: legal}}
              - name: seal-later
                priority: 3
                if: {subject_contains: "[seal]"}
                then: {encrypt: {}}
            """))
        r = self.dry_run(message("=?UTF-8?B?W2VuY3J5cHRdIFEz?=", extra_headers=1),
                         "bob@partner.test", "--rules", draft)
        self.assertEqual(r["matched"], ["strip"])
        self.assertEqual(r["actions"], ["remove_header", "remove_subject_tag", "bcc", "log"])
        self.assertEqual(r["action_details"], [
            {"rule": "strip", "action": "remove_header", "items": ["X-Filler-0"]},
            {"rule": "strip", "action": "remove_subject_tag", "items": ["[encrypt]", "[secure]"]},
            {"rule": "strip", "action": "bcc", "items": ["audit@example.com"]},
            {"rule": "strip", "action": "log", "value": "tag stripped"}])
        self.assertIs(r["encrypt"], False)
        self.assertEqual(r["outcome"], "accept (modified)")
        # encrypt: reported, with the template the wrapper uses
        r = self.dry_run(message("[seal] contract"), "bob@partner.test", "--rules", draft)
        self.assertEqual(r["matched"], ["seal", "seal-later"])
        self.assertIs(r["encrypt"], True)
        self.assertEqual(r["outcome"], "encrypt")
        self.assertEqual(r["action_details"][0], {"rule": "seal", "action": "encrypt", "value": "legal"})
        self.assertEqual(r["template"], "legal")
        self.assertIn("encrypted wrapper", r["note"])
        # bcc to an address that is a recipient already adds no one
        r = self.dry_run(message("Q3 [ENCRYPT]"), "audit@example.com", "--rules", draft)
        self.assertEqual(r["matched"], ["strip"])
        self.assertEqual(r["outcome"], "accept (modified)")
        r = self.dry_run(message("Q3 [ENCRYPTED]"), "audit@example.com", "--rules", draft)
        self.assertEqual(r["matched"], [])

    def test_beyond_max_headers(self):
        # the Subject comes after 25 filler headers: past limits.max_headers (20)
        r = self.dry_run(message("nothing special", extra_headers=25), "bob@partner.test")
        self.assertEqual(r["incomplete"], ["max_headers/max_header_length"])
        # block (a reject) could not be decided: on_incomplete encrypt applies it
        self.assertEqual(r["incomplete_decided"], ["max_headers/max_header_length"])
        self.assertEqual(r["outcome"], "reject")
        self.assertEqual(r["reject"]["rule"], "block")
        self.assertIn({"rule": "block", "condition": "subject_contains",
                       "excerpt": "undecided: limit max_headers/max_header_length"}, r["explanations"])
        r = self.dry_run(message("nothing special", extra_headers=5), "bob@partner.test")
        self.assertEqual((r["incomplete"], r["outcome"]), ([], "accept"))

    def test_opaque_forwarded_message(self):
        # a forwarded message in base64 is not read (opaque_part): a body rule
        # that found nothing is undecided, and policy.on_incomplete applies it
        draft = self.write("payroll.yaml", "rules:\n  - name: payroll\n"
                           "    if: {body_contains: payroll}\n"
                           "    then: {quarantine: \"payroll in the body\"}\n")
        inner = b"Subject: figures\r\n\r\nthe payroll figures\r\n"

        def forwarding(cte, body):
            return (b"From: alice@example.com\r\nTo: bob@partner.test\r\nSubject: fwd\r\n"
                    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                    b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                    b"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: " + cte
                    + b"\r\n\r\n" + body + b"\r\n--b--\r\n")
        r = self.dry_run(forwarding(b"base64", base64.encodebytes(inner)), "bob@partner.test",
                         "--rules", draft)
        self.assertEqual((r["matched"], r["incomplete"], r["incomplete_decided"], r["outcome"]),
                         ([], ["opaque_part"], ["opaque_part"], "quarantine"))
        self.assertIn({"rule": "payroll", "condition": "body_contains",
                       "excerpt": "undecided: opaque_part"}, r["explanations"])
        r = self.dry_run(forwarding(b"7bit", inner), "bob@partner.test", "--rules", draft)
        self.assertEqual((r["matched"], r["incomplete"], r["outcome"]),
                         (["payroll"], [], "quarantine"))

    def test_text_report_and_stdin(self):
        p = subprocess.run([CLI, "test", "-c", self.config, "--from", "alice@example.com",
                            "--to", "bob@partner.test", "-"],
                           input=message("=?UTF-8?Q?=5BENCRYPT=5D_Q3?="), capture_output=True,
                           timeout=60)
        out = p.stdout.decode("utf-8")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("matched:    tag-encrypt\n", out)
        self.assertIn("  because   tag-encrypt: subject_contains: >>[encrypt]<< q3\n", out)
        self.assertIn("  1. tag-encrypt: add_header X-Mailseal-Class: confidential\n", out)
        self.assertIn("  2. tag-encrypt: prepend_subject \"[Secure] \"\n", out)
        self.assertIn("outcome:    accept (modified)\n", out)
        self.assertIn("incomplete: none\n", out)

    def test_corpus(self):
        if not os.path.isdir(CORPUS):
            self.skipTest("no corpus at %s" % CORPUS)
        names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".eml"))
        self.assertTrue(names)
        for name in names:
            with self.subTest(message=name):
                code, out, err = run("test", "-c", self.config, "--from", "alice@example.com",
                                     "--to", "bob@partner.test,carol@example.com", "--json",
                                     os.path.join(CORPUS, name))
                self.assertEqual(code, 0, err)
                r = json.loads(out)
                for key in ("matched", "actions", "encrypt", "audit", "outcome", "reject",
                            "incomplete", "explanations"):
                    self.assertIn(key, r)
                self.assertIn(r["outcome"], ("accept", "accept (modified)", "reject",
                                             "quarantine", "encrypt"))


if __name__ == "__main__":
    unittest.main()
