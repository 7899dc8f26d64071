// envelope.test.mjs - the viewer's envelope reader (crypto/viewer/envelope.js)
// under Node's WebCrypto: envelopes of the test writer and the shared test
// vectors open; wrong passphrases, damage, truncation and bad headers are
// told apart; random passphrases canonicalise; the hint path opens a
// 50-slot envelope quickly; a 10 MB envelope opens fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Env, subtle, writeEnvelope, randomPassphrase, pbkdf2, random, hex, embed, sourceDir } from './helpers.mjs';

const opts = { subtle };
const open = (env, pass, email, o = {}) => Env.open(env, pass, email, { ...opts, ...o });
const text = (u8) => Buffer.from(u8).toString('latin1');
async function rejects(p, code) {
  await assert.rejects(p, (e) => { assert.equal(e.name, 'EnvelopeError'); assert.equal(e.code, code, e.message); return true; });
}

test('round trips through both passphrase kinds, any chunking', async () => {
  const rp = randomPassphrase();
  for (const [len, cs] of [[0, 1024], [1, 1024], [1023, 1024], [1024, 1024], [1025, 1024], [5000, 1024], [70000, 65536]]) {
    const pt = random(len);
    const env = await writeEnvelope(pt, [{ kind: 3 }, { kind: 1, pass: 'correct horse', name: 'ann@example.net' },
                                         { kind: 2, canon: rp.canon }], { chunkSize: cs });
    assert.deepEqual(await open(env, 'correct horse', ''), pt);
    assert.deepEqual(await open(env, rp.shown, ''), pt);
  }
});

test('random passphrases are canonicalised as the spec says', async () => {
  const rp = randomPassphrase();
  const env = await writeEnvelope('hello', [{ kind: 2, canon: rp.canon }]);
  const typed = [rp.shown, rp.canon, rp.shown.toLowerCase(), ' ' + rp.shown.replace(/-/g, ' ') + '\t',
                 rp.shown.replace(/0/g, 'o').replace(/1/g, 'l'), rp.shown.replace(/1/g, 'I').replace(/-/g, '\r\n')];
  for (const t of typed)
    assert.equal(text(await open(env, t, '')), 'hello', JSON.stringify(t));
  assert.equal(Env.canonicalRandom('7KQ2-M9XD-0123-4567-89AB-CD'), '7KQ2M9XD0123456789ABCD');
  assert.equal(Env.canonicalRandom('7kq2 m9xd oi23 4567 89ab cd'), '7KQ2M9XD0123456789ABCD');
  for (const bad of ['7KQ2-M9XD-0123-4567-89AB-CU', '7KQ2-M9XD-0123-4567-89AB-C', '7KQ2-M9XD-0123-4567-89AB-CDE',
                     '7KQ2-M9XD-0123-4567-89AB-C\u0130', '7KQ2-M9XD-0123-4567-89AB-C\u00df'])
    assert.equal(Env.canonicalRandom(bad), null, bad);
  await rejects(open(env, rp.shown.slice(0, -1) + (rp.shown.endsWith('Z') ? 'Y' : 'Z'), ''), 'passphrase');
});

test('a kind-1 passphrase that looks random still opens its slot', async () => {
  const pass = 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ';
  const env = await writeEnvelope('x', [{ kind: 2, canon: randomPassphrase().canon }, { kind: 1, pass, name: 'a@b.c' }]);
  assert.equal(text(await open(env, pass, '')), 'x');
});

test('NFC: a decomposed passphrase opens a composed one; trailing CR/LF ignored', async () => {
  const env = await writeEnvelope('ok', [{ kind: 1, pass: 'Gr\u00fc\u00dfe', name: 'a@b.c' }]);
  assert.equal(text(await open(env, 'Gru\u0308\u00dfe', '')), 'ok');
  assert.equal(text(await open(env, 'Gr\u00fc\u00dfe\r\n', '')), 'ok');
  await rejects(open(env, 'Gr\u00fc\u00dfe ', ''), 'passphrase');
  await rejects(open(env, '', ''), 'passphrase');
  await rejects(open(env, '\ud800', ''), 'passphrase');
});

test('wrong passphrase, damage, truncation and extension are told apart', async () => {
  const pt = random(3000);
  const env = await writeEnvelope(pt, [{ kind: 1, pass: 'pw', name: 'a@b.c' }], { chunkSize: 1024 });
  const headerLen = 32 + 84;
  await rejects(open(env, 'PW', ''), 'passphrase');
  const flip = (i) => { const c = env.slice(); c[i] ^= 1; return c; };
  await rejects(open(flip(env.length - 1), 'pw', ''), 'damaged');           // last tag
  await rejects(open(flip(headerLen + 5), 'pw', ''), 'damaged');            // first chunk
  await rejects(open(flip(headerLen - 100 + 10), 'pw', ''), 'passphrase');  // slot body: slot fails
  await rejects(open(flip(25), 'pw', ''), 'passphrase');                    // nonce base in HP
  await rejects(open(env.subarray(0, headerLen + 1040 * 2), 'pw', ''), 'damaged');   // cut at a chunk boundary
  await rejects(open(env.subarray(0, env.length - 1), 'pw', ''), 'damaged');
  await rejects(open(env.subarray(0, headerLen + 10), 'pw', ''), 'damaged');
  await rejects(open(env.subarray(0, headerLen), 'pw', ''), 'damaged');
  const longer = new Uint8Array(env.length + 16);
  longer.set(env);
  await rejects(open(longer, 'pw', ''), 'damaged');
  // swapping two chunks
  const sw = env.slice();
  sw.set(env.subarray(headerLen + 1040, headerLen + 2080), headerLen);
  sw.set(env.subarray(headerLen, headerLen + 1040), headerLen + 1040);
  await rejects(open(sw, 'pw', ''), 'damaged');
});

test('bad headers are refused before any key is tried', async () => {
  const env = await writeEnvelope('x', [{ kind: 1, pass: 'pw', name: 'a@b.c' }]);
  const dv = (e) => new DataView(e.buffer, e.byteOffset, e.byteLength);
  const cases = [
    ['magic', (e) => { e[0] = 0x4e; }, 'format'],
    ['version', (e) => { e[8] = 2; }, 'version'],
    ['suite', (e) => { e[9] = 2; }, 'version'],
    ['header_len small', (e) => { dv(e).setUint32(10, 31); }, 'format'],
    ['header_len past slots', (e) => { dv(e).setUint32(10, 32 + 84 + 1); }, 'format'],
    ['header_len huge', (e) => { dv(e).setUint32(10, 2000000); }, 'format'],
    ['chunk_size small', (e) => { dv(e).setUint32(14, 1023); }, 'format'],
    ['chunk_size big', (e) => { dv(e).setUint32(14, 16777217); }, 'format'],
    ['no slots', (e) => { dv(e).setUint16(30, 0); }, 'format'],
    ['too many slots', (e) => { dv(e).setUint16(30, 1025); }, 'format'],
    ['slot kind 0', (e) => { e[32] = 0; }, 'format'],
    ['kind 1 body_len', (e) => { dv(e).setUint16(33, 80); }, 'format'],
    ['iterations low', (e) => { dv(e).setUint32(35 + 16, 99999); }, 'format'],
    ['iterations high', (e) => { dv(e).setUint32(35 + 16, 10000001); }, 'format'],
  ];
  for (const [name, change, code] of cases) {
    const c = env.slice();
    change(c);
    await rejects(open(c, 'pw', ''), code);
    void name;
  }
  await rejects(open(new Uint8Array(10), 'pw', ''), 'format');
  // unknown kinds are skipped; an envelope with only a recovery slot says so
  const skip = await writeEnvelope('y', [{ kind: 200, body: random(7) }, { kind: 4, body: random(3) }, { kind: 1, pass: 'pw', name: 'a@b.c' }]);
  assert.equal(text(await open(skip, 'pw', '')), 'y');
  await rejects(open(await writeEnvelope('z', [{ kind: 3 }]), 'pw', ''), 'noslot');
});

test('embedded base64 decodes (CRLF lines) and junk is refused', () => {
  const env = random(1000);
  assert.deepEqual(Env.decodeEmbedded(embed(env)), env);
  assert.deepEqual(Env.decodeEmbedded(embed(env.subarray(0, 999))), env.subarray(0, 999));
  assert.throws(() => Env.decodeEmbedded('AAA*'), (e) => e.code === 'format');
  assert.throws(() => Env.decodeEmbedded('AAAAA'), (e) => e.code === 'format');
});

test('hints: the address and @domain are lower-cased in ASCII only', async () => {
  const nb = random(12);
  const { hint } = await import('./helpers.mjs');
  const h = await Env.hints(subtle, nb, '  Ann@Example.NET ');
  assert.deepEqual(h, [await hint(nb, 'ann@example.net'), await hint(nb, '@example.net')]);
  assert.deepEqual(await Env.hints(subtle, nb, 'x@y@Z.org'), [await hint(nb, 'x@y@z.org'), await hint(nb, '@z.org')]);
  assert.deepEqual(await Env.hints(subtle, nb, '\u0130@b.c'), [await hint(nb, '\u0130@b.c'), await hint(nb, '@b.c')]);
  assert.deepEqual(await Env.hints(subtle, nb, 'nobody'), []);
});

test('50 recipient slots: the hinted slot opens in well under 2 s', async () => {
  const slots = [];
  for (let i = 0; i < 50; i++) {
    const salt = random(16);
    // other recipients' slots: their KEK does not matter, only that it is not ours
    slots.push({ kind: 1, name: `user${i}@example.net`, salt, iterations: 100000, kek: random(32) });
  }
  const mine = { kind: 1, pass: 'my secret', name: 'me@example.org', iterations: 100000 };
  slots.splice(37, 0, mine);
  const env = await writeEnvelope('for me', slots);
  let t0 = performance.now();
  assert.equal(text(await open(env, 'my secret', 'Me@Example.org')), 'for me');
  const hinted = performance.now() - t0;
  // the domain's slot is hinted too
  const env2 = await writeEnvelope('dom', [...slots.slice(0, 20), { kind: 1, pass: 'dom pw', name: '@example.com' }]);
  t0 = performance.now();
  assert.equal(text(await open(env2, 'dom pw', 'someone@EXAMPLE.com')), 'dom');
  const hintedDomain = performance.now() - t0;
  t0 = performance.now();
  await rejects(open(env, 'not mine', 'me@example.org'), 'passphrase');
  const all = performance.now() - t0;
  console.log(`50 slots: hinted ${hinted.toFixed(0)} ms, domain-hinted ${hintedDomain.toFixed(0)} ms, wrong passphrase (all 51 slots) ${all.toFixed(0)} ms`);
  assert.ok(hinted < 2000, `hinted open took ${hinted} ms`);
  assert.ok(hinted * 5 < all, 'the hint path is much faster than trying every slot');
});

test('a 10 MB envelope opens within 1 s (base64 + decrypt)', async () => {
  const pt = random(10 * 1024 * 1024);
  const env = await writeEnvelope(pt, [{ kind: 2, canon: 'ABCDEFGHJKMNPQRSTVWXYZ' }]);
  const page = embed(env);
  let progress = 0;
  const t0 = performance.now();
  const bytes = Env.decodeEmbedded(page);
  const t1 = performance.now();
  const out = await open(bytes, 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ', '', { onProgress: (d, n) => { progress = d / n; } });
  const t2 = performance.now();
  console.log(`10 MB: base64 ${(t1 - t0).toFixed(0)} ms, decrypt ${(t2 - t1).toFixed(0)} ms`);
  assert.equal(progress, 1);
  assert.equal(Buffer.compare(Buffer.from(out), Buffer.from(pt)), 0);
  assert.ok(t2 - t0 < 1000, `took ${t2 - t0} ms`);
});

test('the shared test vectors (tests/vectors/envelope-v1.json) open in every slot', async (t) => {
  const file = path.join(sourceDir, 'tests', 'vectors', 'envelope-v1.json');
  if (!fs.existsSync(file)) {
    t.skip('tests/vectors/envelope-v1.json is absent');
    return;
  }
  const { vectors } = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(vectors.length >= 4);
  let opened = 0;
  for (const v of vectors) {
    const env = hex(v.envelope);
    for (const s of v.slots) {
      if (s.kind === 1) {
        assert.deepEqual(await pbkdf2(s.passphrase, hex(s.salt), s.iterations), hex(s.kek), v.name);
        assert.deepEqual(await open(env, s.passphrase, s.name.startsWith('@') ? 'x' + s.name : s.name), hex(v.plaintext), v.name);
        opened++;
      } else if (s.kind === 2) {
        assert.deepEqual(await open(env, s.passphrase, ''), hex(v.plaintext), v.name);
        assert.deepEqual(await open(env, s.passphrase.toLowerCase().replace(/-/g, ' '), ''), hex(v.plaintext), v.name);
        opened++;
      }
    }
    await rejects(open(env, 'wrong passphrase', ''), 'passphrase');
  }
  assert.ok(opened >= 6);
});
