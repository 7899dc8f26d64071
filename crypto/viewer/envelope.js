/*
 * envelope.js - the viewer's reader of the mailseal envelope (docs/ENVELOPE.md,
 * format version 1) with WebCrypto; no DOM.
 *
 * decodeEmbedded(text) turns the base64 of the page's envelope element into
 * bytes; parseHeader(bytes) checks the header and lists its key slots;
 * open(bytes, passphrase, email, options) finds a slot the passphrase opens
 * and decrypts the chunks, resolving to the plaintext (Uint8Array).
 *
 * Slots tried: when the passphrase canonicalises to 22 characters of the
 * random-passphrase alphabet, the kind-2 slots (HKDF, cheap) first; then the
 * kind-1 slots (PBKDF2), those whose hint matches the reader's address or
 * "@domain" first, a few at a time in parallel, each salt and iteration
 * count derived once.  Chunks are decrypted several at a time into one
 * preallocated buffer; options.onProgress(done, total) follows them.
 *
 * Failures reject with an EnvelopeError whose code is 'format' (not an
 * envelope, or a damaged header), 'version' (unknown version or suite),
 * 'passphrase' (no slot opens), 'noslot' (no slot a browser can open),
 * 'damaged' (a chunk fails its tag, or the envelope is truncated or
 * extended): no plaintext is released then.  Loaded as a classic script
 * in the page (window.MailsealEnvelope) or with require() under Node,
 * where options.subtle gives the WebCrypto to use.
 */
(function (root) {
  'use strict';

  var MAGIC = [0x4d, 0x53, 0x45, 0x41, 0x4c, 0x45, 0x4e, 0x56];   /* MSEALENV */
  var MAX_HEADER = 1048576, MIN_CHUNK = 1024, MAX_CHUNK = 16777216, MAX_SLOTS = 1024;
  var BODY_LEN = { 1: 81, 2: 76, 3: 100 };
  var ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  var PARALLEL_KDF = 4, PARALLEL_CHUNKS = 8;
  var MIN_ITER = 100000, MAX_ITER = 10000000;   /* kind 1 iterations allowed by the spec */
  var MAX_PASS = 4096;                            /* bytes of a passphrase */
  var enc = new TextEncoder();

  /* EnvelopeError - a failure with a code for the user interface */
  function EnvelopeError(code, message) {
    var e = new Error(message);
    e.name = 'EnvelopeError';
    e.code = code;
    return e;
  }

  /* decodeEmbedded - the bytes of the base64 text of the envelope element */
  function decodeEmbedded(text) {
    if (typeof Uint8Array.fromBase64 === 'function') {
      try {
        return Uint8Array.fromBase64(text);
      } catch (e) {
        throw EnvelopeError('format', 'The encrypted message in this file is damaged (bad base64).');
      }
    }
    var s = text.replace(/[\t\n\f\r ]+/g, '');
    if (/[^A-Za-z0-9+/=]/.test(s) || s.length % 4 !== 0)
      throw EnvelopeError('format', 'The encrypted message in this file is damaged (bad base64).');
    var pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
    var out = new Uint8Array(s.length / 4 * 3 - pad);
    var n = 0, STEP = 1 << 20;       /* a multiple of 4 */
    try {
      for (var off = 0; off < s.length; off += STEP) {
        var bin = atob(s.slice(off, off + STEP));
        for (var i = 0; i < bin.length; i++)
          out[n++] = bin.charCodeAt(i);
      }
    } catch (e) {
      throw EnvelopeError('format', 'The encrypted message in this file is damaged (bad base64).');
    }
    return out;
  }

  function u16(b, o) { return (b[o] << 8) | b[o + 1]; }
  function u32(b, o) { return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]; }

  /* parseHeader - the checked header fields and key slots of an envelope */
  function parseHeader(b) {
    var bad = function (why) { return EnvelopeError('format', 'This is not a mailseal envelope, or it is damaged (' + why + ').'); };
    if (b.length < 32)
      throw bad('too short');
    for (var i = 0; i < 8; i++)
      if (b[i] !== MAGIC[i])
        throw bad('bad magic');
    if (b[8] !== 1 || b[9] !== 1)
      throw EnvelopeError('version', 'This message uses an envelope version this viewer does not know (' + b[8] + '.' + b[9] + ').');
    var h = { headerLen: u32(b, 10), chunkSize: u32(b, 14), nb: b.slice(18, 30), hp: b.slice(0, 30),
              nslots: u16(b, 30), slots: [] };
    if (h.headerLen < 32 + 3 * h.nslots || h.headerLen > MAX_HEADER)
      throw bad('header length');
    if (h.headerLen > b.length)
      throw bad('truncated header');
    if (h.chunkSize < MIN_CHUNK || h.chunkSize > MAX_CHUNK)
      throw bad('chunk size');
    if (h.nslots < 1 || h.nslots > MAX_SLOTS)
      throw bad('slot count');
    var off = 32;
    for (var s = 0; s < h.nslots; s++) {
      if (off + 3 > h.headerLen)
        throw bad('slots overrun the header');
      var kind = b[off], len = u16(b, off + 1);
      if (off + 3 + len > h.headerLen)
        throw bad('slots overrun the header');
      if (kind === 0 || (BODY_LEN[kind] !== undefined && BODY_LEN[kind] !== len))
        throw bad('bad slot');
      if (kind === 1 && (u32(b, off + 3 + 16) < MIN_ITER || u32(b, off + 3 + 16) > MAX_ITER))
        throw bad('iteration count out of range');
      h.slots.push({ index: s, kind: kind, body: b.subarray(off + 3, off + 3 + len) });
      off += 3 + len;
    }
    if (off !== h.headerLen)
      throw bad('slots do not end the header');
    h.header = b.subarray(0, h.headerLen);
    return h;
  }

  /* canonicalRandom - the canonical form of a typed random passphrase, or null */
  function canonicalRandom(typed) {
    var s = String(typed).replace(/[ \t\r\n-]+/g, '').replace(/[a-z]/g, function (c) { return c.toUpperCase(); })
      .replace(/O/g, '0').replace(/[IL]/g, '1');
    if (s.length !== 22)
      return null;
    for (var i = 0; i < 22; i++)
      if (ALPHABET.indexOf(s[i]) < 0)
        return null;
    return s;
  }

  /* passphraseBytes - UTF-8 of the NFC form, trailing CR and LF removed;
   * null when empty, too long, or not text (lone surrogates) */
  function passphraseBytes(p) {
    var s = String(p).replace(/[\r\n]+$/, '');
    if (s === '' || /[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/.test(s))
      return null;
    var b = enc.encode(s.normalize('NFC'));
    return b.length > MAX_PASS ? null : b;
  }

  /* asciiLower - ASCII letters lower-cased, every other character kept */
  function asciiLower(s) {
    return s.replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
  }

  /* hints - the hint bytes of an address and its "@domain" (empty without one) */
  async function hints(subtle, nb, email) {
    var addr = asciiLower(String(email || '').trim());
    var at = addr.lastIndexOf('@');
    if (at <= 0 || at === addr.length - 1)
      return [];
    var key = await subtle.importKey('raw', nb, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    var out = [];
    var names = [addr, addr.slice(at)];
    for (var i = 0; i < names.length; i++)
      out.push(new Uint8Array(await subtle.sign('HMAC', key, enc.encode(names[i])))[0]);
    return out;
  }

  /* unwrap - MK from a slot under kek (raw bytes), null when the tag fails */
  async function unwrap(subtle, h, slot, kekBytes, nonce, wrapped) {
    var kek = await subtle.importKey('raw', kekBytes, 'AES-GCM', false, ['decrypt']);
    var aad = new Uint8Array(31);
    aad.set(h.hp, 0);
    aad[30] = slot.kind;
    try {
      return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, kek, wrapped));
    } catch (e) {
      return null;
    }
  }

  /* hkdf - 32 bytes of HKDF-SHA256 */
  async function hkdf(subtle, ikm, salt, info) {
    var k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
    return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: salt, info: enc.encode(info) }, k, 256));
  }

  /* findKey - MK from the first slot the passphrase opens, or null */
  async function findKey(subtle, h, passphrase, email) {
    var canon = canonicalRandom(passphrase);
    var i, mk;
    if (canon !== null) {
      for (i = 0; i < h.slots.length; i++) {
        var s2 = h.slots[i];
        if (s2.kind !== 2)
          continue;
        var kek2 = await hkdf(subtle, enc.encode(canon), s2.body.subarray(0, 16), 'mailseal v1 random passphrase');
        mk = await unwrap(subtle, h, s2, kek2, s2.body.subarray(16, 28), s2.body.subarray(28, 76));
        kek2.fill(0);
        if (mk !== null)
          return mk;
      }
    }
    var kind1 = h.slots.filter(function (s) { return s.kind === 1; });
    if (kind1.length === 0)
      return null;
    var hs = await hints(subtle, h.nb, email);
    var first = [], rest = [];
    kind1.forEach(function (s) { (hs.indexOf(s.body[20]) >= 0 ? first : rest).push(s); });
    var pb = passphraseBytes(passphrase);
    if (pb === null)
      return null;
    var pass = await subtle.importKey('raw', pb, 'PBKDF2', false, ['deriveBits']);
    pb.fill(0);
    var cache = Object.create(null);
    function kekFor(s) {
      var iter = u32(s.body, 16);
      var id = Array.prototype.join.call(s.body.subarray(0, 16), ',') + '/' + iter;
      if (!(id in cache)) {
        cache[id] = iter < MIN_ITER || iter > MAX_ITER ? Promise.resolve(null)
          : subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: s.body.subarray(0, 16), iterations: iter }, pass, 256)
              .then(function (bits) { return new Uint8Array(bits); });
      }
      return cache[id];
    }
    async function trySlot(s) {
      var kek = await kekFor(s);
      return kek === null ? null : unwrap(subtle, h, s, kek, s.body.subarray(21, 33), s.body.subarray(33, 81));
    }
    /* the hinted slots first, as a batch of their own */
    var batches = [];
    for (i = 0; i < first.length; i += PARALLEL_KDF)
      batches.push(first.slice(i, i + PARALLEL_KDF));
    for (i = 0; i < rest.length; i += PARALLEL_KDF)
      batches.push(rest.slice(i, i + PARALLEL_KDF));
    try {
      for (i = 0; i < batches.length; i++) {
        var got = await Promise.all(batches[i].map(trySlot));
        for (var j = 0; j < got.length; j++)
          if (got[j] !== null)
            return got[j];
      }
    } finally {
      for (var id in cache) {
        var v = await cache[id];
        if (v !== null)
          v.fill(0);
      }
    }
    return null;
  }

  /* decryptChunks - the plaintext of the chunks after the header under MK */
  async function decryptChunks(subtle, h, b, mk, onProgress) {
    var pkBytes = await hkdf(subtle, mk, h.nb, 'mailseal v1 payload');
    var pk = await subtle.importKey('raw', pkBytes, 'AES-GCM', false, ['decrypt']);
    pkBytes.fill(0);
    var hd = new Uint8Array(await subtle.digest('SHA-256', h.header));
    var step = h.chunkSize + 16, body = b.length - h.headerLen;
    var damaged = function (why) { return EnvelopeError('damaged', 'The encrypted message is damaged (' + why + '): it cannot be shown.'); };
    if (body < 16)
      throw damaged('truncated');
    var n = Math.ceil(body / step);
    if (body - (n - 1) * step < 16)
      throw damaged('truncated');
    var out = new Uint8Array(body - 16 * n);
    var done = 0;
    if (onProgress)
      onProgress(0, n);
    function one(i) {
      var nonce = h.nb.slice();
      var x = i;
      for (var k = 11; k >= 0 && x > 0; k--) {
        nonce[k] ^= x & 0xff;
        x = Math.floor(x / 256);
      }
      var aad = new Uint8Array(33);
      aad.set(hd, 0);
      aad[32] = i === n - 1 ? 1 : 0;
      var start = h.headerLen + i * step;
      var ct = b.subarray(start, Math.min(start + step, b.length));
      return subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, pk, ct).then(function (pt) {
        out.set(new Uint8Array(pt), i * h.chunkSize);
        done++;
      }, function () {
        throw damaged(i === n - 1 ? 'the last part is missing or changed' : 'part ' + (i + 1) + ' of ' + n + ' fails its check');
      });
    }
    for (var i = 0; i < n; i += PARALLEL_CHUNKS) {
      var batch = [];
      for (var j = i; j < n && j < i + PARALLEL_CHUNKS; j++)
        batch.push(one(j));
      try {
        await Promise.all(batch);
      } catch (e) {
        out.fill(0);
        throw e;
      }
      if (onProgress)
        onProgress(done, n);
    }
    return out;
  }

  /* open - the plaintext of envelope bytes b under a passphrase */
  async function open(b, passphrase, email, options) {
    options = options || {};
    var subtle = options.subtle || (root.crypto && root.crypto.subtle);
    if (!subtle)
      throw EnvelopeError('nocrypto', 'This browser does not offer WebCrypto (crypto.subtle).');
    var h = parseHeader(b);
    if (!h.slots.some(function (s) { return s.kind === 1 || s.kind === 2; }))
      throw EnvelopeError('noslot', 'This message has no passphrase: only your organisation can open it.');
    var mk = await findKey(subtle, h, passphrase, email);
    if (mk === null)
      throw EnvelopeError('passphrase', 'This passphrase does not open the message. Check it and try again.');
    try {
      return await decryptChunks(subtle, h, b, mk, options.onProgress);
    } finally {
      mk.fill(0);
    }
  }

  var api = {
    decodeEmbedded: decodeEmbedded, parseHeader: parseHeader, canonicalRandom: canonicalRandom,
    passphraseBytes: passphraseBytes, asciiLower: asciiLower, hints: hints, open: open, EnvelopeError: EnvelopeError
  };
  if (typeof module === 'object' && module !== null && module.exports)
    module.exports = api;
  else
    root.MailsealEnvelope = api;
})(typeof globalThis === 'object' ? globalThis : this);
