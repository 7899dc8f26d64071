// mime.test.mjs - the viewer's MIME parser (crypto/viewer/mime.js) on tricky
// messages: nested multiparts, transfer encodings, encoded words, RFC 2231
// parameters, charsets, nested messages, broken structure and caps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mime } from './helpers.mjs';

// msg - a message from pieces: strings are latin1 bytes, arrays are bytes
function msg(...pieces) {
  return Uint8Array.from(Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
}
const crlf = (s) => s.replace(/\r?\n/g, '\r\n');
const view = (m) => Mime.analyse(Mime.parse(m));
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

test('RFC 2047: UTF-8, KOI8-R, ISO-2022-JP, Q encoding, split words, plain text kept', () => {
  const cases = [
    ['=?UTF-8?B?' + b64('\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440') + '?=', '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440'],
    ['=?koi8-r?B?' + Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]).toString('base64') + '?=', '\u041f\u0440\u0438\u0432\u0435\u0442'],
    ['=?ISO-2022-JP?B?' + Buffer.from('\x1b$BF|K\\8l\x1b(B', 'latin1').toString('base64') + '?=', '\u65e5\u672c\u8a9e'],
    ['=?utf-8?q?caf=C3=A9_au_lait?=', 'caf\u00e9 au lait'],
    ['=?iso-8859-1?Q?Gr=FC=DFe?= aus =?utf-8?b?S8O2bG4=?=', 'Gr\u00fc\u00dfe aus K\u00f6ln'],
    // adjacent words: the white space between them goes, and a character cut across words is joined
    ['=?UTF-8?B?5pel?= =?UTF-8?B?5pys?=\r\n =?UTF-8?B?6Kqe?=', '\u65e5\u672c\u8a9e'],
    ['=?UTF-8?B?' + Buffer.from('\u65e5').subarray(0, 2).toString('base64') + '?= =?UTF-8?B?' + Buffer.from('\u65e5').subarray(2).toString('base64') + '?=', '\u65e5'],
    ['=?utf-8*en?q?lang?= tag', 'lang tag'],
    ['no words here', 'no words here'],
    ['=?bogus-charset?q?plain?=', 'plain'],
    ['broken =?utf-8?x?nope?= word', 'broken =?utf-8?x?nope?= word'],
  ];
  for (const [raw, want] of cases)
    assert.equal(Mime.decodeWords(raw), want, raw);
  const m = view(msg(crlf('Subject: =?UTF-8?B?0JfQsNC60LDQtw==?=\n =?UTF-8?B?INC+0YLQv9GA0LDQstC70LXQvQ==?=\nFrom: =?iso-8859-1?q?J=F6rg?= <j@example.de>\n\nbody\n')));
  assert.equal(m.subject, '\u0417\u0430\u043a\u0430\u0437 \u043e\u0442\u043f\u0440\u0430\u0432\u043b\u0435\u043d');
  assert.equal(m.from, 'J\u00f6rg <j@example.de>');
});

test('RFC 2231 parameters: continuations, charsets, quoting, and RFC 2047 in quotes', () => {
  const cases = [
    ["attachment; filename*0*=utf-8''%E6%97%A5%E6%9C%AC; filename*1*=%E8%AA%9E; filename*2=\".pdf\"", '\u65e5\u672c\u8a9e.pdf'],
    ["attachment; filename*=iso-8859-1'de'M%FCller%20Bericht.txt", 'M\u00fcller Bericht.txt'],
    ['attachment; filename*1="b.txt"; filename*0="a "', 'a b.txt'],
    ['attachment; filename="=?UTF-8?B?0L7RgtGH0ZHRgi5kb2N4?="', '\u043e\u0442\u0447\u0451\u0442.docx'],
    ['attachment; FILENAME="semi;colon \\"q\\".txt"', 'semi;colon "q".txt'],
    ['attachment (a comment); filename=plain.txt', 'plain.txt'],
  ];
  for (const [raw, want] of cases)
    assert.equal(Mime.parseStructured(raw).params.filename, want, raw);
  const ct = Mime.parseStructured('Multipart/Mixed; boundary="=_b;1"; charset=UTF-8');
  assert.equal(ct.value, 'multipart/mixed');
  assert.equal(ct.params.boundary, '=_b;1');
});

const nested = crlf(`From: Ann <ann@example.net>
To: Bob <bob@example.net>, "Carol, C." <carol@example.org>
Cc: dave@example.com
Date: Tue, 3 Mar 2026 10:00:00 +0100
Subject: Nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a preamble.
--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Plain version with a soft=
 break and caf=C3=A9.=20
--alt
Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>HTML with a picture <img src=3D"cid:pic1@x"></p>
--rel
Content-Type: image/png
Content-ID: <pic1@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--alt--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
JSVFT0YK
--outer
Content-Type: message/rfc822

From: Zed <zed@example.net>
Subject: =?utf-8?q?Inner_=E2=9C=93?=
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

`) + '\xc0 bient\xf4t\r\n' + crlf(`--outer--
epilogue
`);

test('nested multiparts: alternative picks HTML, related resolves cid, attachments and a nested message', () => {
  const root = Mime.parse(msg(nested));
  assert.equal(root.type, 'multipart/mixed');
  assert.equal(root.parts.length, 3);
  assert.equal(root.parts[0].parts[0].type, 'text/plain');
  assert.equal(Mime.partText(root.parts[0].parts[0]), 'Plain version with a soft break and caf\u00e9. ');
  const m = Mime.analyse(root);
  assert.equal(m.from, 'Ann <ann@example.net>');
  assert.equal(m.to, 'Bob <bob@example.net>, "Carol, C." <carol@example.org>');
  assert.equal(m.cc, 'dave@example.com');
  assert.equal(m.date, 'Tue, 3 Mar 2026 10:00:00 +0100');
  assert.deepEqual(m.bodies.map((b) => b.kind), ['html', 'message']);
  assert.equal(m.bodies[0].html, '<p>HTML with a picture <img src="cid:pic1@x"></p>');
  assert.deepEqual(Array.from(Mime.partBytes(m.bodies[0].cids['pic1@x']).subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
  const inner = m.bodies[1].message;
  assert.equal(inner.subject, 'Inner \u2713');
  assert.equal(inner.bodies[0].text, '\u00c0 bient\u00f4t');
  assert.deepEqual(m.attachments.map((a) => [a.name, a.type]), [['report.pdf', 'application/pdf'], ['Inner \u2713.eml', 'message/rfc822']]);
  assert.equal(Buffer.from(Mime.partBytes(m.attachments[0].part)).toString('latin1'), '%PDF-1.4\n%%EOF\n');
});

test('LF-only line ends and a missing closing boundary', () => {
  const m = view(msg('Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\n'
    + 'Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nsecond, cut off'));
  assert.equal(m.subject, 'lf');
  assert.equal(m.bodies[0].text, 'first');
  assert.equal(m.truncated, true);
  assert.equal(m.attachments[0].name, 'a.txt');
  assert.equal(Buffer.from(Mime.partBytes(m.attachments[0].part)).toString(), 'second, cut off');
  // a boundary that never appears: the body is still shown
  const n = view(msg('Content-Type: multipart/mixed; boundary=zz\n\njust text\n'));
  assert.equal(n.bodies[0].text, 'just text\n');
  // boundary-like lines that are not the boundary are content
  const o = view(msg(crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bb\n--b x\n--b--\n')));
  assert.equal(o.bodies[0].text, '--bb\r\n--b x');
});

test('charsets: iso-8859-1, windows-1252, koi8-r, shift_jis, utf-8, unknown labels', () => {
  const body = (cs, bytes, cte = '8bit') => view(msg(`Content-Type: text/plain; charset="${cs}"\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`, bytes)).bodies[0].text;
  assert.equal(body('iso-8859-1', [0x47, 0x72, 0xfc, 0xdf, 0x65]), 'Gr\u00fc\u00dfe');
  assert.equal(body('windows-1252', [0x80, 0x20, 0x93, 0x71, 0x94]), '\u20ac \u201cq\u201d');
  assert.equal(body('KOI8-R', [0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), '\u041f\u0440\u0438\u0432\u0435\u0442');
  assert.equal(body('Shift_JIS', [0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea]), '\u65e5\u672c\u8a9e');
  assert.equal(body('utf-8', Buffer.from('\u00e9\u65e5')), '\u00e9\u65e5');
  assert.equal(body('x-no-such-charset', Buffer.from('\u00e9')), '\u00e9');          // valid UTF-8
  assert.equal(body('x-no-such-charset', [0xe9, 0x20, 0x80]), '\u00e9 \u20ac');     // else windows-1252
  assert.equal(body('us-ascii', Buffer.from('caf\u00e9')), 'caf\u00e9');
  assert.equal(body('utf-8', 'Y2Fmw6k=\r\n', 'base64'), 'caf\u00e9');
  // headers in raw UTF-8 (RFC 6532) and in raw latin-1
  assert.equal(view(msg('Subject: ', Buffer.from('\u65e5\u672c'), '\r\n\r\nx')).subject, '\u65e5\u672c');
  assert.equal(view(msg('Subject: caf\xe9\r\n\r\nx')).subject, 'caf\u00e9');
});

test('base64 with line breaks and junk, quoted-printable edge cases', () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
  const lines = data.toString('base64').match(/.{1,76}/g).join('\r\n');
  assert.deepEqual(Buffer.from(Mime.base64ToBytes(lines)), data);
  assert.deepEqual(Buffer.from(Mime.base64ToBytes(' aGVs\r\nbG8*!\n')), Buffer.from('hello'));
  assert.deepEqual(Buffer.from(Mime.base64ToBytes('aGVsbG8')), Buffer.from('hello'));
  const qp = (s) => Buffer.from(Mime.qpToBytes(Uint8Array.from(Buffer.from(s, 'latin1')))).toString('latin1');
  assert.equal(qp('a=\r\nb=\nc'), 'abc');
  assert.equal(qp('soft =  \r\nbreak'), 'soft break');
  assert.equal(qp('trail   \r\nx\t\nend  '), 'trail\r\nx\nend');
  assert.equal(qp('=3D=3d=C3=A9'), '==\xc3\xa9');
  assert.equal(qp('bad =ZZ and =4'), 'bad =ZZ and =4');
  assert.equal(qp('end='), 'end');
});

test('message/rfc822 in base64, digest defaults, depth and part caps', () => {
  const inner = 'Subject: in base64\r\n\r\nhi\r\n';
  const m = view(msg(crlf('Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n') + Buffer.from(inner).toString('base64') + '\r\n'));
  assert.equal(m.bodies[0].message.subject, 'in base64');
  assert.equal(m.bodies[0].message.bodies[0].text, 'hi\r\n');
  const d = view(msg(crlf('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n--d--\n')));
  assert.equal(d.bodies[0].message.subject, 'one');
  // 200 nested multiparts: parsing stops at the depth cap without failing
  let deep = '';
  for (let i = 0; i < 200; i++)
    deep += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  deep += 'Content-Type: text/plain\r\n\r\nbottom\r\n';
  const root = Mime.parse(msg(deep));
  let depth = 0;
  for (let p = root; p.parts.length > 0; p = p.parts[0])
    depth++;
  assert.equal(depth, Mime.limits.MAX_DEPTH);
  view(msg(deep));
  // many parts: capped
  let many = 'Content-Type: multipart/mixed; boundary=m\r\n\r\n';
  for (let i = 0; i < 6000; i++)
    many += '--m\r\nContent-Type: text/plain\r\n\r\nx\r\n';
  const mp = Mime.parse(msg(many + '--m--\r\n'));
  assert.ok(mp.parts.length < Mime.limits.MAX_PARTS);
});

test('attachment names: no paths or controls, generated when absent, HTML kept as text', () => {
  const m = view(msg(crlf(`Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

see attached
--x
Content-Type: application/octet-stream; name="../../etc/passwd"

a
--x
Content-Type: image/png

b
--x
Content-Type: text/plain
Content-Disposition: attachment; filename="<img src=x onerror=alert(1)>.txt"

c
--x--
`)));
  assert.deepEqual(m.attachments.map((a) => a.name), ['_.._etc_passwd', 'part-2.png', '<img src=x onerror=alert(1)>.txt']);
  assert.equal(m.bodies.length, 1);
});

test('a 10 MB message parses fast', () => {
  const big = Buffer.alloc(7 * 1024 * 1024, 0x41);
  const m = msg(crlf('Subject: big\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain; charset=utf-8\n\n')
    + 'text\r\n'.repeat(100000) + crlf('--q\nContent-Type: application/octet-stream; name=big.bin\nContent-Transfer-Encoding: base64\n\n')
    + big.toString('base64').match(/.{1,76}/g).join('\r\n') + '\r\n--q--\r\n');
  const t0 = performance.now();
  const v = view(m);
  const bytes = Mime.partBytes(v.attachments[0].part);
  const t = performance.now() - t0;
  console.log(`parse ${(m.length / 1048576).toFixed(1)} MB and decode a 7 MB attachment: ${t.toFixed(0)} ms`);
  assert.equal(bytes.length, big.length);
  assert.ok(t < 1000);
});
