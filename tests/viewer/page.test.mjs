// page.test.mjs - the viewer script as the page runs it: the three files
// concatenated (as crypto/viewer_embed.cmake does) and run as one classic
// script in a fresh context without module or document; it must define its
// globals, do nothing else, and open an envelope through them.  The files
// must be what the page can carry (ASCII, short lines, no "</script").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { webcrypto } from 'node:crypto';
import { viewerDir, writeEnvelope, embed } from './helpers.mjs';

const files = ['mime.js', 'envelope.js', 'viewer.js'];

test('the viewer files can be inlined in a 7bit page', () => {
  for (const f of [...files, 'viewer.css', 'viewer.html']) {
    const t = fs.readFileSync(path.join(viewerDir, f), 'latin1');
    assert.ok(!/[^\t\n\x20-\x7e]/.test(t), `${f}: only printable ASCII, TAB and LF`);
    for (const line of t.split('\n'))
      assert.ok(line.length <= 900, `${f}: a line of ${line.length} characters`);
    if (f.endsWith('.js')) {
      assert.ok(!/<\/script/i.test(t) && !t.includes('<!--'), `${f}: holds </script or <!--`);
    }
  }
});

test('inline: one classic script defines the globals and opens an envelope', async () => {
  const script = files.map((f) => fs.readFileSync(path.join(viewerDir, f), 'utf8')).join('');
  const ctx = vm.createContext({ TextDecoder, TextEncoder, atob, btoa, crypto: webcrypto, console });
  vm.runInContext(script, ctx, { filename: 'viewer-inline.js' });
  assert.equal(typeof ctx.MailsealMime.parse, 'function');
  assert.equal(typeof ctx.MailsealEnvelope.open, 'function');
  const env = await writeEnvelope('Subject: =?utf-8?q?inline_=E2=9C=93?=\r\n\r\nbody\r\n', [{ kind: 1, pass: 'pw', name: 'a@b.c' }]);
  const bytes = ctx.MailsealEnvelope.decodeEmbedded(embed(env));
  const plain = await ctx.MailsealEnvelope.open(bytes, 'pw', 'a@b.c');   // crypto.subtle of the context
  const m = ctx.MailsealMime.analyse(ctx.MailsealMime.parse(plain));
  assert.equal(m.subject, 'inline \u2713');
  assert.equal(m.bodies[0].text, 'body\r\n');
});

test('a page written by the C writers (envelope and viewer) opens with the JavaScript in it', async (t) => {
  const build = process.env.MAILSEAL_BUILD_DIR;
  const bin = build && path.join(build, 'tests', 'crypto', 'crypto_test_viewer');
  if (!bin || !fs.existsSync(bin)) {
    t.skip('crypto_test_viewer is not built (MAILSEAL_BUILD_DIR unset): run through ctest');
    return;
  }
  const { execFileSync } = await import('node:child_process');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'viewer-page-'));
  try {
    const out = path.join(dir, 'message.html');
    const env = { ...process.env, MAILSEAL_VIEWER_SAMPLE: out };
    delete env.MAILSEAL_VIEWER_ENVELOPE;
    execFileSync(bin, [], { env, stdio: 'ignore' });
    const html = fs.readFileSync(out, 'latin1');
    const pass = fs.readFileSync(out + '.pass', 'utf8');
    // the page's own script, as the browser sees it (CRLF -> LF), is the one its CSP names
    const m = /<script>([\s\S]*?)<\/script>/.exec(html);
    const script = m[1].replace(/\r\n/g, '\n');
    const hash = (await import('node:crypto')).createHash('sha256').update(script, 'latin1').digest('base64');
    assert.ok(html.includes(`script-src 'sha256-${hash}'`));
    const ctx = vm.createContext({ TextDecoder, TextEncoder, atob, btoa, crypto: webcrypto });
    vm.runInContext(script, ctx);
    const tag = '<script type="application/x-mailseal-envelope" id="mailseal-envelope">';
    const start = html.indexOf(tag) + tag.length;
    const b64 = html.slice(start, html.indexOf('</script>', start));
    const plain = await ctx.MailsealEnvelope.open(ctx.MailsealEnvelope.decodeEmbedded(b64), pass.toLowerCase(), '');
    const v = ctx.MailsealMime.analyse(ctx.MailsealMime.parse(plain));
    assert.equal(v.subject, 'from the C writer \u2713');
    assert.equal(v.bodies[0].text, 'hello from C\r\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
