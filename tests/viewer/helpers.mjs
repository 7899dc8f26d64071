// helpers - shared by the viewer's Node tests: the viewer modules loaded as
// under Node (require), and a small envelope writer after docs/ENVELOPE.md
// (test code only) so the tests make their own envelopes.
import { createRequire } from 'node:module';
import { webcrypto, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.MAILSEAL_SOURCE_DIR || path.resolve(here, '..', '..');
export const viewerDir = path.join(sourceDir, 'crypto', 'viewer');
const require = createRequire(import.meta.url);
export const Mime = require(path.join(viewerDir, 'mime.js'));
export const Env = require(path.join(viewerDir, 'envelope.js'));
export const subtle = webcrypto.subtle;

const enc = new TextEncoder();
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function hex(s) { return Uint8Array.from(Buffer.from(s, 'hex')); }
export function random(n) { return Uint8Array.from(randomBytes(n)); }
export function bytes(s) { return typeof s === 'string' ? Uint8Array.from(Buffer.from(s, 'latin1')) : s; }

async function gcm(key, iv, aad, data) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, k, data));
}
async function hkdf(ikm, salt, info) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: enc.encode(info) }, k, 256));
}
export async function pbkdf2(pass, salt, iterations) {
  const k = await subtle.importKey('raw', enc.encode(pass.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, k, 256));
}
export async function hint(nb, name) {
  const k = await subtle.importKey('raw', nb, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, enc.encode(name)))[0];
}

// randomPassphrase - a shown random passphrase (XXXX-XXXX-...-XX) and its canonical form
export function randomPassphrase() {
  const b = random(22);
  const canon = Array.from(b, (x) => ALPHABET[x & 31]).join('');
  return { canon, shown: canon.match(/.{1,4}/g).join('-') };
}

// writeEnvelope - an envelope of plaintext; slots: { kind: 1, pass, name,
// iterations, kek?, salt? } | { kind: 2, canon } | { kind: 3 } (random body)
// | { kind: N, body }.  Keys may be given as kek to skip PBKDF2.
export async function writeEnvelope(plaintext, slots, { chunkSize = 65536, mk = random(32), nb = random(12) } = {}) {
  plaintext = bytes(plaintext);
  const lens = { 1: 81, 2: 76, 3: 100 };
  const headerLen = 32 + slots.reduce((n, s) => n + 3 + (s.body ? s.body.length : lens[s.kind]), 0);
  const hp = new Uint8Array(30);
  hp.set(enc.encode('MSEALENV'), 0);
  hp[8] = 1; hp[9] = 1;
  new DataView(hp.buffer).setUint32(10, headerLen);
  new DataView(hp.buffer).setUint32(14, chunkSize);
  hp.set(nb, 18);
  const header = new Uint8Array(headerLen);
  header.set(hp, 0);
  new DataView(header.buffer).setUint16(30, slots.length);
  let off = 32;
  for (const s of slots) {
    let body;
    const aad = new Uint8Array(31);
    aad.set(hp, 0);
    aad[30] = s.kind;
    if (s.body) {
      body = s.body;
    } else if (s.kind === 1) {
      const salt = s.salt || random(16), iterations = s.iterations || 100000, nonce = random(12);
      const kek = s.kek || await pbkdf2(s.pass, salt, iterations);
      body = new Uint8Array(81);
      body.set(salt, 0);
      new DataView(body.buffer).setUint32(16, iterations);
      body[20] = await hint(nb, s.name);
      body.set(nonce, 21);
      body.set(await gcm(kek, nonce, aad, mk), 33);
    } else if (s.kind === 2) {
      const salt = random(16), nonce = random(12);
      const kek = await hkdf(enc.encode(s.canon), salt, 'mailseal v1 random passphrase');
      body = new Uint8Array(76);
      body.set(salt, 0);
      body.set(nonce, 16);
      body.set(await gcm(kek, nonce, aad, mk), 28);
    } else {
      body = random(lens[s.kind]);
    }
    header[off] = s.kind;
    new DataView(header.buffer).setUint16(off + 1, body.length);
    header.set(body, off + 3);
    off += 3 + body.length;
  }
  const pk = await hkdf(mk, nb, 'mailseal v1 payload');
  const key = await subtle.importKey('raw', pk, 'AES-GCM', false, ['encrypt']);
  const hd = new Uint8Array(await subtle.digest('SHA-256', header));
  const n = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  const out = new Uint8Array(headerLen + plaintext.length + 16 * n);
  out.set(header, 0);
  const jobs = [];
  for (let i = 0; i < n; i++) {
    const nonce = nb.slice();
    new DataView(nonce.buffer).setUint32(8, new DataView(nonce.buffer).getUint32(8) ^ i);
    const aad = new Uint8Array(33);
    aad.set(hd, 0);
    aad[32] = i === n - 1 ? 1 : 0;
    const pt = plaintext.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, plaintext.length));
    jobs.push(subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, pt)
      .then((ct) => out.set(new Uint8Array(ct), headerLen + i * (chunkSize + 16))));
  }
  await Promise.all(jobs);
  return out;
}

// embed - the envelope as the page carries it: base64 lines of 76 and CRLF
export function embed(env) {
  const b64 = Buffer.from(env).toString('base64');
  return '\r\n' + (b64.match(/.{1,76}/g) || []).join('\r\n') + '\r\n';
}
