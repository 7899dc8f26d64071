// page.test.mjs - the viewer script as the page runs it: the three files
// concatenated (as crypto/viewer_embed.cmake does) and run as one classic
// script in a fresh context without module or document; it must define its
// globals, do nothing else, and open an envelope through them.  The files
// must be what the page can carry (ASCII, short lines, no "</script").
// Pages written by the C writers (crypto_test_viewer) open with the
// JavaScript in them; their envelope is read by the reader rule of
// docs/ENVELOPE.md (readEnvelope below, written from the spec), a large one
// spread over several blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { webcrypto } from 'node:crypto';
import { viewerDir, writeEnvelope, embed, randomPassphrase } from './helpers.mjs';

const files = ['mime.js', 'envelope.js', 'viewer.js'];
const FIRST = '<script type="application/x-mailseal-envelope" id="mailseal-envelope">';
const MORE = '<script type="application/x-mailseal-envelope">';

// readEnvelope - the blocks' texts of a page by the spec's reader rule: the first
// block after FIRST up to </script> (any case); then, while optional white space and
// exactly MORE follow an end tag, that block up to its </script>
function readEnvelope(html) {
  const blocks = [], lower = html.toLowerCase();
  let at = html.indexOf(FIRST);
  assert.ok(at >= 0, 'no first block');
  at += FIRST.length;
  for (;;) {
    const end = lower.indexOf('</script>', at);
    assert.ok(end >= 0, 'a block without its end tag');
    blocks.push(html.slice(at, end));
    const ws = /[ \t\r\n]*/y;
    ws.lastIndex = end + 9;
    ws.exec(html);
    at = ws.lastIndex;
    if (!html.startsWith(MORE, at))
      return blocks;
    at += MORE.length;
  }
}

// pageOf - the page crypto_test_viewer writes (the envelope file env, else its own); null when not built
async function pageOf(t, envBytes) {
  const build = process.env.MAILSEAL_BUILD_DIR;
  const bin = build && path.join(build, 'tests', 'crypto', 'crypto_test_viewer');
  if (!bin || !fs.existsSync(bin)) {
    t.skip('crypto_test_viewer is not built (MAILSEAL_BUILD_DIR unset): run through ctest');
    return null;
  }
  const { execFileSync } = await import('node:child_process');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'viewer-page-'));
  try {
    const out = path.join(dir, 'message.html');
    const env = { ...process.env, MAILSEAL_VIEWER_SAMPLE: out };
    delete env.MAILSEAL_VIEWER_ENVELOPE;
    if (envBytes) {
      env.MAILSEAL_VIEWER_ENVELOPE = path.join(dir, 'envelope.bin');
      fs.writeFileSync(env.MAILSEAL_VIEWER_ENVELOPE, envBytes);
    }
    execFileSync(bin, [], { env, stdio: 'ignore' });
    return { html: fs.readFileSync(out, 'latin1'), pass: envBytes ? null : fs.readFileSync(out + '.pass', 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// pageScript - the page's own script run in a fresh context, after checking that the CSP names it
async function pageScript(html) {
  const m = /<script>([\s\S]*?)<\/script>/.exec(html);
  const script = m[1].replace(/\r\n/g, '\n');   // as the browser sees it (CRLF -> LF)
  const hash = (await import('node:crypto')).createHash('sha256').update(script, 'latin1').digest('base64');
  assert.ok(html.includes(`script-src 'sha256-${hash}'`));
  const ctx = vm.createContext({ TextDecoder, TextEncoder, atob, btoa, crypto: webcrypto });
  vm.runInContext(script, ctx);
  return ctx;
}

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
  const page = await pageOf(t, null);
  if (!page) return;
  const ctx = await pageScript(page.html);
  const blocks = readEnvelope(page.html);
  assert.equal(blocks.length, 1);
  const plain = await ctx.MailsealEnvelope.open(ctx.MailsealEnvelope.decodeEmbedded(blocks.join('')),
    page.pass.toLowerCase(), '');
  const v = ctx.MailsealMime.analyse(ctx.MailsealMime.parse(plain));
  assert.equal(v.subject, 'from the C writer \u2713');
  assert.equal(v.bodies[0].text, 'hello from C\r\n');
});

test('a large envelope is written in blocks of at most 10,000 lines and opens from their joined texts', async (t) => {
  const rp = randomPassphrase();
  const body = 'x'.repeat(75) + '\r\n';
  const text = 'Subject: blocks\r\n\r\n' + body.repeat(16000);    // 1.2 MB: three blocks
  const env = await writeEnvelope(text, [{ kind: 2, canon: rp.canon }]);
  const page = await pageOf(t, env);
  if (!page) return;
  const blocks = readEnvelope(page.html);
  assert.equal(blocks.length, Math.ceil(Math.ceil(env.length / 57) / 10000));
  assert.equal(blocks.length, 3);
  blocks.forEach((b, i) => {
    const lines = b.split('\r\n').filter((l) => l !== '');
    assert.ok(lines.length > 0 && lines.length <= 10000, `block ${i}: ${lines.length} lines`);
    if (i < blocks.length - 1) assert.equal(lines.length, 10000);
  });
  // the blocks follow each other as the writer puts them
  assert.ok(page.html.includes('</script>\r\n' + MORE + '\r\n'));
  const ctx = await pageScript(page.html);
  const bytes = ctx.MailsealEnvelope.decodeEmbedded(blocks.join(''));
  assert.deepEqual(Buffer.from(bytes), Buffer.from(env));
  const plain = await ctx.MailsealEnvelope.open(bytes, rp.shown, '');
  assert.equal(Buffer.from(plain).toString('latin1'), text);
});
