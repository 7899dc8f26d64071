/*
 * mime.js - the viewer's MIME parser (bytes in, a model out; no DOM).
 *
 * parse(bytes) reads a whole message (Uint8Array) into a tree of parts:
 * headers (unfolded, raw), content type and parameters (RFC 2231, with
 * continuations and charsets, and RFC 2047 words inside quoted values),
 * disposition, transfer encoding, the still-encoded body as a subarray of
 * the input, children of multiparts (nested, depth and count capped; a
 * missing closing boundary ends the multipart at the end of the data and
 * sets truncated) and the parsed message of a message/rfc822 part.
 * partBytes() undoes the transfer encoding (base64, quoted-printable);
 * partText() also decodes the charset with TextDecoder (unknown labels:
 * UTF-8 when the bytes are valid UTF-8, else windows-1252).  decodeWords()
 * decodes RFC 2047 encoded words.  analyse() turns a parsed message into
 * what the viewer shows: header fields, the bodies to display in order
 * (text, HTML with its cid: resources, nested messages) and the attachments.
 *
 * Speed: the input is searched as one index-aligned string (windows-1252
 * maps every byte to one UTF-16 unit, ASCII to itself), so boundaries are
 * found with indexOf; bodies stay Uint8Array views until decoded.
 * Nothing here throws on malformed input; it is loaded as a classic script
 * in the page (window.MailsealMime) or with require() under Node.
 */
(function (root) {
  'use strict';

  var MAX_DEPTH = 20;          /* nesting of multiparts and messages */
  var MAX_PARTS = 5000;        /* parts in one message, nested included */
  var MAX_HEADER = 1 << 20;    /* bytes of one header block */
  var MAX_FIELDS = 2000;       /* header fields of one part */

  var binDecoder = new TextDecoder('windows-1252');
  var decoders = Object.create(null);

  /* binary - the bytes as an index-aligned string (one unit per byte) */
  function binary(bytes) {
    return binDecoder.decode(bytes);
  }

  /* isUtf8 - true when the bytes are valid UTF-8 */
  function isUtf8(bytes) {
    try {
      decoderFor('utf-8-fatal').decode(bytes);
      return true;
    } catch (e) {
      return false;
    }
  }

  /* decoderFor - a cached TextDecoder for a label, null when unknown */
  function decoderFor(label) {
    if (label in decoders)
      return decoders[label];
    var d = null;
    try {
      d = label === 'utf-8-fatal' ? new TextDecoder('utf-8', { fatal: true }) : new TextDecoder(label);
    } catch (e) {
      d = null;
    }
    decoders[label] = d;
    return d;
  }

  /* the windows-1252 characters of bytes 0x80-0x9f (some engines decode
   * windows-1252 as ISO-8859-1 and leave C1 controls there) */
  var CP1252 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f'
    + '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

  /* decodeCharset - bytes in the given charset as a string */
  function decodeCharset(bytes, charset) {
    var label = String(charset || '').trim().toLowerCase().replace(/^["']|["']$/g, '');
    if (label === '' || label === 'us-ascii' || label === 'ascii' || label === 'unknown-8bit'
        || label === 'x-unknown' || label === 'default' || label === 'unknown') {
      label = isUtf8(bytes) ? 'utf-8' : 'windows-1252';
    }
    var d = decoderFor(label);
    if (d === null || label === 'replacement')
      d = decoderFor(isUtf8(bytes) ? 'utf-8' : 'windows-1252');
    var text = d.decode(bytes);
    if (d.encoding === 'windows-1252')
      text = text.replace(/[\u0080-\u009f]/g, function (c) { return CP1252[c.charCodeAt(0) - 0x80]; });
    return text;
  }

  /* base64ToBytes - decode base64 text, ignoring white space and junk */
  function base64ToBytes(text) {
    if (typeof Uint8Array.fromBase64 === 'function') {
      try {
        return Uint8Array.fromBase64(text, { lastChunkHandling: 'loose' });
      } catch (e) { /* junk in it: clean below */ }
    }
    var s = text.replace(/[^A-Za-z0-9+/]+/g, '');
    var rem = s.length % 4;
    if (rem === 1)
      s = s.slice(0, -1);
    else if (rem > 1)
      s += rem === 2 ? '==' : '=';
    var out = new Uint8Array(s.length / 4 * 3);
    var n = 0, STEP = 1 << 20;     /* a multiple of 4 */
    for (var off = 0; off < s.length; off += STEP) {
      var bin = atob(s.slice(off, off + STEP));
      for (var i = 0; i < bin.length; i++)
        out[n++] = bin.charCodeAt(i);
    }
    return n === out.length ? out : out.subarray(0, n);
  }

  function hexval(c) {
    if (c >= 48 && c <= 57) return c - 48;
    if (c >= 65 && c <= 70) return c - 55;
    if (c >= 97 && c <= 102) return c - 87;
    return -1;
  }

  /* qpToBytes - decode quoted-printable bytes (soft breaks, =XX, trailing
   * white space before a line break dropped, a stray "=" kept) */
  function qpToBytes(src) {
    var out = new Uint8Array(src.length);
    var n = 0, len = src.length;
    for (var i = 0; i < len; i++) {
      var c = src[i];
      if (c === 61) {                                  /* = */
        var h1 = i + 2 < len + 1 ? hexval(src[i + 1]) : -1;
        var h2 = i + 2 < len ? hexval(src[i + 2]) : -1;
        if (h1 >= 0 && h2 >= 0) {
          out[n++] = h1 * 16 + h2;
          i += 2;
          continue;
        }
        var j = i + 1;
        while (j < len && (src[j] === 32 || src[j] === 9))
          j++;
        if (j < len && src[j] === 13 && src[j + 1] === 10) {
          i = j + 1;
          continue;
        }
        if (j < len && src[j] === 10) {
          i = j;
          continue;
        }
        if (j === len) {
          i = j;
          continue;
        }
        out[n++] = c;
      } else if (c === 32 || c === 9) {
        var k = i;
        while (k < len && (src[k] === 32 || src[k] === 9))
          k++;
        if (k === len || src[k] === 10 || (src[k] === 13 && src[k + 1] === 10)) {
          i = k - 1;                                   /* trailing white space */
          continue;
        }
        for (; i < k; i++)
          out[n++] = src[i];
        i--;
      } else {
        out[n++] = c;
      }
    }
    return out.subarray(0, n);
  }

  /* latin1Bytes - the code units of a string (all below 256) as bytes */
  function latin1Bytes(s) {
    var b = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++)
      b[i] = s.charCodeAt(i) & 0xff;
    return b;
  }

  /* concatBytes - one Uint8Array from several */
  function concatBytes(list) {
    var total = 0, i;
    for (i = 0; i < list.length; i++)
      total += list[i].length;
    var out = new Uint8Array(total), off = 0;
    for (i = 0; i < list.length; i++) {
      out.set(list[i], off);
      off += list[i].length;
    }
    return out;
  }

  var WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

  /* decodeWords - decode the RFC 2047 encoded words of a header value;
   * adjacent words of one charset are joined before decoding (mailers cut
   * multibyte characters across words), white space between words dropped */
  function decodeWords(value) {
    value = String(value);
    if (value.indexOf('=?') < 0)
      return value;
    var out = '', last = 0, m, pending = null, pendingCharset = '', gap = '';
    WORD.lastIndex = 0;
    function flush() {
      if (pending !== null)
        out += decodeCharset(concatBytes(pending), pendingCharset);
      pending = null;
    }
    while ((m = WORD.exec(value)) !== null) {
      var between = value.slice(last, m.index);
      var charset = m[1].split('*')[0].toLowerCase();
      var bytes;
      if (m[2] === 'B' || m[2] === 'b') {
        bytes = base64ToBytes(m[3]);
      } else {
        bytes = qpToBytes(latin1Bytes(m[3].replace(/_/g, ' ')));
      }
      if (pending !== null && /^[ \t\r\n]*$/.test(between)) {
        if (charset !== pendingCharset) {
          flush();
        }
      } else {
        flush();
        out += between;
      }
      if (pending === null) {
        pending = [];
        pendingCharset = charset;
      }
      pending.push(bytes);
      last = WORD.lastIndex;
    }
    flush();
    gap = value.slice(last);
    return out + gap;
  }

  /* splitParams - the ";"-separated items of a structured value, quotes respected */
  function splitParams(value) {
    var items = [], cur = '', q = false;
    for (var i = 0; i < value.length; i++) {
      var c = value[i];
      if (q) {
        if (c === '\\' && i + 1 < value.length) {
          cur += value[++i];
          continue;
        }
        if (c === '"') {
          q = false;
          cur += '\u0001';           /* marks the end of the quoted text */
        } else
          cur += c;
        continue;
      }
      if (c === '"') {
        q = true;
        cur += '\u0000';             /* marks "was quoted" for the value */
        continue;
      }
      if (c === ';') {
        items.push(cur);
        cur = '';
        continue;
      }
      if (c === '(') {               /* a comment: skip it, nested too */
        var depth = 1;
        while (++i < value.length && depth > 0) {
          if (value[i] === '\\') i++;
          else if (value[i] === '(') depth++;
          else if (value[i] === ')') depth--;
        }
        i--;
        continue;
      }
      cur += c;
    }
    items.push(cur);
    return items;
  }

  /* pctBytes - %XX-decoded bytes of an RFC 2231 extended value */
  function pctBytes(s) {
    var b = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c === 37 && i + 2 < s.length + 0 && hexval(s.charCodeAt(i + 1)) >= 0 && hexval(s.charCodeAt(i + 2)) >= 0) {
        b.push(hexval(s.charCodeAt(i + 1)) * 16 + hexval(s.charCodeAt(i + 2)));
        i += 2;
      } else if (c < 256) {
        b.push(c);
      } else {
        var u = new TextEncoder().encode(s[i]);
        for (var k = 0; k < u.length; k++) b.push(u[k]);
      }
    }
    return Uint8Array.from(b);
  }

  /* parseStructured - "type/sub; a=b; c*0*=utf-8''x; c*1=y" into
   * { value: 'type/sub' (lower-cased), params: { a: 'b', c: ... } } */
  function parseStructured(raw) {
    var items = splitParams(String(raw || ''));
    var value = items[0].replace(/[\u0000\u0001]/g, '').trim().toLowerCase();
    var params = Object.create(null), sections = Object.create(null);
    for (var i = 1; i < items.length; i++) {
      var eq = items[i].indexOf('=');
      if (eq < 0)
        continue;
      var name = items[i].slice(0, eq).trim().toLowerCase();
      var v = items[i].slice(eq + 1).trim();
      var quoted = v.indexOf('\u0000') >= 0;
      v = v.replace(/[\u0000\u0001]/g, '');
      var m = /^([^*]+)(?:\*(\d+))?(\*)?$/.exec(name);
      if (!m)
        continue;
      if (m[2] === undefined && m[3] === undefined) {
        if (!(m[1] in params))
          params[m[1]] = quoted || v.indexOf('=?') >= 0 ? decodeWords(v) : v;
        continue;
      }
      var list = sections[m[1]] || (sections[m[1]] = []);
      if (list.length < 1000)
        list.push({ n: m[2] === undefined ? 0 : parseInt(m[2], 10), ext: m[3] !== undefined, v: v });
    }
    for (var key in sections) {
      var secs = sections[key].sort(function (a, b) { return a.n - b.n; });
      var charset = 'utf-8', parts = [];
      for (var j = 0; j < secs.length; j++) {
        var s = secs[j].v;
        if (secs[j].ext) {
          if (j === 0) {
            var q1 = s.indexOf("'"), q2 = q1 >= 0 ? s.indexOf("'", q1 + 1) : -1;
            if (q2 >= 0) {
              charset = s.slice(0, q1) || 'utf-8';
              s = s.slice(q2 + 1);
            }
          }
          parts.push(pctBytes(s));
        } else {
          parts.push(new TextEncoder().encode(s));
        }
      }
      params[key] = decodeCharset(concatBytes(parts), charset);
    }
    return { value: value, params: params };
  }

  /* lineEnd - index just after the line break at or after i (or len) */
  function lineEnd(s, i, end) {
    var lf = s.indexOf('\n', i);
    return lf < 0 || lf >= end ? end : lf + 1;
  }

  /* parseHeaders - header fields of s[start, end) as [[name, value]] */
  function parseHeaders(bytes, s, start, end) {
    var text = s.slice(start, Math.min(end, start + MAX_HEADER));
    if (/[\u0080-\uffff]/.test(text))
      text = decodeCharset(bytes.subarray(start, start + text.length), '');
    var lines = text.split(/\r?\n/), fields = [];
    for (var i = 0; i < lines.length && fields.length < MAX_FIELDS; i++) {
      var line = lines[i];
      if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
        fields[fields.length - 1][1] += line;   /* unfold: drop the break */
        continue;
      }
      var colon = line.indexOf(':');
      if (colon <= 0)
        continue;
      fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1)]);
    }
    for (var k = 0; k < fields.length; k++)
      fields[k][1] = fields[k][1].replace(/^[ \t]+|[ \t\r]+$/g, '');
    return fields;
  }

  /* field - the first raw value of header name, '' when absent */
  function field(part, name) {
    for (var i = 0; i < part.headers.length; i++)
      if (part.headers[i][0] === name)
        return part.headers[i][1];
    return '';
  }

  /* header - a header value decoded for display (RFC 2047) */
  function header(part, name) {
    return decodeWords(field(part, name)).replace(/\s+/g, ' ').trim();
  }

  /* parsePart - the part in s[start, end) of bytes */
  function parsePart(bytes, s, start, end, depth, state, defaultType) {
    state.count++;
    var part = { headers: [], type: defaultType, params: Object.create(null), disposition: '',
                 dispParams: Object.create(null), encoding: '7bit', body: null, parts: [],
                 message: null, truncated: false, depth: depth };
    /* headers end at the first empty line */
    var bodyStart = end, i = start;
    while (i < end) {
      var e = lineEnd(s, i, end);
      var lineLen = e - i;
      if ((lineLen === 1 && s[i] === '\n') || (lineLen === 2 && s[i] === '\r' && s[i + 1] === '\n')) {
        bodyStart = e;
        break;
      }
      if (e - start > MAX_HEADER) {
        bodyStart = e;
        break;
      }
      i = e;
    }
    part.headers = parseHeaders(bytes, s, start, bodyStart === end ? end : bodyStart);
    part.body = bytes.subarray(bodyStart, end);
    part.bodyStart = bodyStart;
    part.bodyEnd = end;
    var ct = field(part, 'content-type');
    if (ct !== '') {
      var p = parseStructured(ct);
      if (/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(p.value)) {
        part.type = p.value;
        part.params = p.params;
      } else {
        part.params = p.params;
        part.type = 'text/plain';
      }
    }
    var cd = field(part, 'content-disposition');
    if (cd !== '') {
      var d = parseStructured(cd);
      part.disposition = d.value;
      part.dispParams = d.params;
    }
    part.encoding = field(part, 'content-transfer-encoding').trim().toLowerCase() || '7bit';
    if (depth >= MAX_DEPTH || state.count >= MAX_PARTS)
      return part;
    if (part.type.indexOf('multipart/') === 0 && part.params.boundary) {
      parseMultipart(bytes, s, part, depth, state);
    } else if (part.type === 'message/rfc822' || part.type === 'message/global') {
      if (part.encoding === 'base64' || part.encoding === 'quoted-printable') {
        var inner = partBytes(part);
        part.message = parsePart(inner, binary(inner), 0, inner.length, depth + 1, state, 'text/plain');
      } else {
        part.message = parsePart(bytes, s, bodyStart, end, depth + 1, state, 'text/plain');
      }
    }
    return part;
  }

  /* parseMultipart - the children of a multipart part */
  function parseMultipart(bytes, s, part, depth, state) {
    var delim = '--' + part.params.boundary;
    var start = part.bodyStart, end = part.bodyEnd;
    var childType = part.type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    var pos = start, partStart = -1;

    /* nextDelim - the next delimiter line at or after from: [index, after line, closing] */
    function nextDelim(from) {
      for (;;) {
        var i = s.indexOf(delim, from);
        if (i < 0 || i + delim.length > end)
          return null;
        if (i === start || s[i - 1] === '\n') {
          var j = i + delim.length;
          var closing = s[j] === '-' && s[j + 1] === '-';
          if (closing)
            j += 2;
          var k = j;
          while (k < end && (s[k] === ' ' || s[k] === '\t'))
            k++;
          if (k >= end || s[k] === '\r' || s[k] === '\n')
            return [i, lineEnd(s, k, end), closing];
        }
        from = i + 1;
      }
    }
    for (;;) {
      var d = nextDelim(pos);
      if (d === null) {
        if (partStart >= 0)
          part.truncated = true;
        if (partStart >= 0 && state.count < MAX_PARTS)
          part.parts.push(parsePart(bytes, s, partStart, end, depth + 1, state, childType));
        break;
      }
      if (partStart >= 0 && state.count < MAX_PARTS) {
        var pe = d[0];
        if (pe > partStart && s[pe - 1] === '\n') {
          pe--;
          if (pe > partStart && s[pe - 1] === '\r')
            pe--;
        }
        part.parts.push(parsePart(bytes, s, partStart, pe, depth + 1, state, childType));
      }
      if (d[2])
        break;
      partStart = d[1];
      pos = d[1];
    }
  }

  /* parse - a whole message (Uint8Array) into its part tree */
  function parse(bytes) {
    return parsePart(bytes, binary(bytes), 0, bytes.length, 0, { count: 0 }, 'text/plain');
  }

  /* partBytes - the body of a part with its transfer encoding undone */
  function partBytes(part) {
    if (part.encoding === 'base64')
      return base64ToBytes(binary(part.body));
    if (part.encoding === 'quoted-printable')
      return qpToBytes(part.body);
    return part.body;
  }

  /* partText - the body of a text part as a string */
  function partText(part) {
    return decodeCharset(partBytes(part), part.params.charset);
  }

  var EXT = { 'text/plain': 'txt', 'text/html': 'html', 'image/png': 'png', 'image/jpeg': 'jpg',
              'image/gif': 'gif', 'application/pdf': 'pdf', 'message/rfc822': 'eml', 'text/calendar': 'ics' };

  /* safeName - a file name without paths or control characters: C0, C1,
   * bidi marks, embeddings, overrides and isolates (which make
   * "invoice\u202efdp.exe" show as a .pdf), zero-width space, word joiner
   * and BOM; ZWNJ and ZWJ stay (Persian, Indic and emoji names need them) */
  function safeName(name) {
    name = String(name).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff/\\]+/g, '_')
      .replace(/^[\s.]+|\s+$/g, '');
    return name.slice(0, 200);
  }

  /* filename - the part's file name (filename, then name), '' when none */
  function filename(part) {
    return safeName(part.dispParams.filename || part.params.name || '');
  }

  /* contentId - the part's Content-ID without angle brackets */
  function contentId(part) {
    return field(part, 'content-id').trim().replace(/^<|>$/g, '');
  }

  /* analyse - what the viewer shows of a parsed message: { subject, from,
   * to, cc, date, bodies: [{ kind: 'text', text } | { kind: 'html', html,
   * cids } | { kind: 'message', message, part }], attachments: [{ name,
   * type, part }], truncated } */
  function analyse(msg) {
    var out = { subject: header(msg, 'subject'), from: header(msg, 'from'), to: header(msg, 'to'),
                cc: header(msg, 'cc'), date: header(msg, 'date'), bodies: [], attachments: [],
                truncated: false };
    var cids = Object.create(null), n = 0;

    function collectCids(p) {
      var id = contentId(p);
      if (id !== '' && p.parts.length === 0)
        cids[id] = p;
      for (var i = 0; i < p.parts.length; i++)
        collectCids(p.parts[i]);
    }
    function attach(p, name) {
      n++;
      var ext = EXT[p.type] || 'bin';
      out.attachments.push({ name: name || filename(p) || ('part-' + n + '.' + ext), type: p.type, part: p });
    }
    function isInlineText(p) {
      return (p.type === 'text/plain' || p.type === 'text/html') && p.disposition !== 'attachment'
             && !(filename(p) !== '' && p.disposition !== 'inline');
    }
    function pickAlternative(p) {
      var best = null, i;
      for (i = p.parts.length - 1; i >= 0 && best === null; i--) {
        var c = p.parts[i];
        if (c.type === 'text/html' || c.type === 'multipart/related' || c.type === 'multipart/mixed')
          best = c;
      }
      for (i = p.parts.length - 1; i >= 0 && best === null; i--)
        if (p.parts[i].type === 'text/plain')
          best = p.parts[i];
      return best || p.parts[p.parts.length - 1] || null;
    }
    function walk(p, used) {
      if (p.truncated)
        out.truncated = true;
      if (p.message !== null) {
        out.bodies.push({ kind: 'message', message: analyse(p.message), part: p });
        var subj = header(p.message, 'subject');
        attach(p, filename(p) || safeName((subj || 'message') + '.eml'));
        return;
      }
      if (p.type.indexOf('multipart/') === 0 && p.parts.length > 0) {
        if (p.type === 'multipart/alternative') {
          var best = pickAlternative(p);
          if (best !== null)
            walk(best, used);
          return;
        }
        if (p.type === 'multipart/related') {
          var start = (p.params.start || '').replace(/^<|>$/g, ''), rootPart = p.parts[0];
          for (var i = 0; i < p.parts.length; i++)
            if (start !== '' && contentId(p.parts[i]) === start)
              rootPart = p.parts[i];
          walk(rootPart, used);
          for (var j = 0; j < p.parts.length; j++)
            if (p.parts[j] !== rootPart && (p.parts[j].disposition === 'attachment' || contentId(p.parts[j]) === ''))
              walk(p.parts[j], used);
          return;
        }
        for (var k = 0; k < p.parts.length; k++)
          walk(p.parts[k], used);
        return;
      }
      if (isInlineText(p)) {
        if (p.type === 'text/html')
          out.bodies.push({ kind: 'html', html: partText(p), cids: cids, part: p });
        else
          out.bodies.push({ kind: 'text', text: partText(p), part: p });
        return;
      }
      if (p.type.indexOf('multipart/') === 0 && p.parts.length === 0) {
        if (p.body.length > 0)         /* no boundary found: show what is there */
          out.bodies.push({ kind: 'text', text: decodeCharset(p.body, ''), part: p });
        return;
      }
      attach(p);
    }
    collectCids(msg);
    walk(msg, null);
    return out;
  }

  var api = {
    parse: parse, analyse: analyse, partBytes: partBytes, partText: partText, header: header,
    field: field, decodeWords: decodeWords, decodeCharset: decodeCharset, parseStructured: parseStructured,
    base64ToBytes: base64ToBytes, qpToBytes: qpToBytes, filename: filename, contentId: contentId,
    safeName: safeName, binary: binary,
    limits: { MAX_DEPTH: MAX_DEPTH, MAX_PARTS: MAX_PARTS }
  };
  if (typeof module === 'object' && module !== null && module.exports)
    module.exports = api;
  else
    root.MailsealMime = api;
})(typeof globalThis === 'object' ? globalThis : this);
