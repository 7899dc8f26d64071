/*
 * viewer.js - the page's user interface: asks for the passphrase, opens the
 * envelope embedded in the page (envelope.js), parses the message
 * (mime.js) and shows it.  Runs only in a browser page (it does nothing
 * where there is no document, e.g. under Node).
 *
 * The envelope's base64 is split over several script elements of type
 * application/x-mailseal-envelope (blocks of at most 10,000 lines, as
 * docs/ENVELOPE.md says: WebKit loads one multi-megabyte script element
 * very slowly); the page holds no others, so their texts in document order,
 * joined once, are the envelope's base64.
 *
 * With two or more personal passphrase slots the page says by the address
 * field (#email-note) that the reader's address finds their key at once
 * (without it every slot costs one PBKDF2 derivation).
 *
 * A text body longer than TEXT_CLIP characters is shown up to there, with
 * a button.show-all that shows the rest.
 *
 * States (document.body.dataset.state): locked, decrypting, open, error.
 * Stable ids for tests: #passphrase #email #open #status #error #subject
 * #from #to #cc #date #body-text #body-frame #attachments (links carry
 * data-name) #download-eml.  All message data is put into the page as text
 * (textContent); a message's HTML is shown only in a sandboxed srcdoc frame
 * without scripts, with its own Content-Security-Policy, after removing
 * active and remote content and turning cid: references into data: URLs.
 */
(function (root) {
  'use strict';

  if (typeof document === 'undefined' || typeof window === 'undefined')
    return;
  var Mime = root.MailsealMime, Env = root.MailsealEnvelope;
  var TEXT_CLIP = 1000000;        /* characters of a text body shown at first */
  var FRAME_CSP = "default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; font-src data:";
  var FRAME_STYLE = 'html{color-scheme:light}body{margin:0;padding:12px;font:15px/1.5 system-ui,-apple-system,'
    + '"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fff;overflow-wrap:anywhere}'
    + 'img{max-width:100%;height:auto}table{max-width:100%}pre{white-space:pre-wrap}';

  function $(id) { return document.getElementById(id); }

  var plaintext = null, urls = [];

  /* setState - the page state, for styles and tests */
  function setState(s) {
    document.body.dataset.state = s;
  }

  /* status - a polite status message */
  function status(text) {
    $('status').textContent = text;
  }

  /* showError - an error the reader must see; the form stays usable */
  function showError(text) {
    var e = $('error');
    e.textContent = text;
    e.hidden = false;
    setState('error');
  }

  /* sizeText - a byte count for people */
  function sizeText(n) {
    if (n < 1024) return n + ' bytes';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }

  /* blobUrl - an object URL for bytes, released when the page goes */
  function blobUrl(bytes, type) {
    var u = URL.createObjectURL(new Blob([bytes], { type: type || 'application/octet-stream' }));
    urls.push(u);
    return u;
  }

  /* bytesToBase64 - base64 of bytes, in slices (no quadratic strings) */
  function bytesToBase64(bytes) {
    if (typeof bytes.toBase64 === 'function')
      return bytes.toBase64();
    var parts = [], STEP = 12288 * 3;   /* a multiple of 3, few enough arguments for apply */
    for (var i = 0; i < bytes.length; i += STEP)
      parts.push(btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + STEP))));
    return parts.join('');
  }

  /* cidUrl - a data: URL for a cid: reference, '' when unknown */
  function cidUrl(ref, cids, cache) {
    var id = ref.replace(/^cid:/i, '');
    try {
      id = decodeURIComponent(id);
    } catch (e) { /* a stray %: use it as written */ }
    id = id.replace(/^<|>$/g, '');
    if (!(id in cids))
      return '';
    if (!(id in cache)) {
      var p = cids[id];
      cache[id] = 'data:' + p.type.replace(/[^a-z0-9.+\/-]/g, '') + ';base64,' + bytesToBase64(Mime.partBytes(p));
    }
    return cache[id];
  }

  /* cssCanon - a style sheet as this browser serializes it (its CSSOM):
   * escapes written out (u\72l( is url(), @\69mport is dropped),
   * image-set() strings made url(), rules it does not know dropped; the
   * text as it is where there is no constructable style sheet */
  function cssCanon(css) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);       /* drops @import */
      return Array.prototype.map.call(sheet.cssRules, function (r) { return r.cssText; }).join('\n');
    } catch (e) {
      return css;
    }
  }

  /* cssClean - CSS without @import and without any url() but cid: (made a
   * data: URL) and data:image; the frame's policy would block the rest,
   * this keeps the browser from even asking.  The text must be the
   * browser's own serialization (cssCanon, CSSStyleDeclaration.cssText),
   * which writes every url() and @import out plainly. */
  function cssClean(css, cids, cache) {
    return css.replace(/@import[^;]*;?/gi, '')
      .replace(/url\s*\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)/gi, function (m, dq, sq, bare) {
        var v = (dq !== undefined ? dq : sq !== undefined ? sq : bare).trim();
        if (/^cid:/i.test(v)) {
          var u = cidUrl(v, cids, cache);
          return u !== '' ? 'url("' + u + '")' : 'none';
        }
        if (/^data:image\//i.test(v))
          return 'url("' + v.replace(/["\\\r\n]/g, '') + '")';
        return 'none';
      });
  }

  var SVG_ANIMATION = ['set', 'animate', 'animatemotion', 'animatetransform', 'discard'];

  var URL_ATTRS = ['src', 'background', 'poster', 'srcset', 'lowsrc', 'dynsrc', 'data', 'action',
                   'formaction', 'xlink:href', 'longdesc', 'ping', 'cite', 'icon', 'manifest'];

  /* frameDocument - the srcdoc for a message's HTML: no active or remote content */
  function frameDocument(html, cids) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var cache = Object.create(null);
    /* template: its content is not in the tree searched here, and a
     * declarative shadow root (shadowrootmode) would show it in the frame */
    doc.querySelectorAll('script,meta,base,link,object,embed,applet,iframe,frame,frameset,form,portal,noscript,template')
      .forEach(function (e) { e.remove(); });
    /* SVG animation can set any attribute (an event handler, an href) after
     * the cleaning below has looked at it */
    Array.prototype.filter.call(doc.getElementsByTagName('*'), function (e) {
      return SVG_ANIMATION.indexOf(e.localName.toLowerCase()) >= 0;
    }).forEach(function (e) { e.remove(); });
    doc.querySelectorAll('*').forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (a) {
        var name = a.name.toLowerCase(), v = a.value.trim();
        if (name.indexOf('on') === 0) {
          el.removeAttribute(a.name);
        } else if (URL_ATTRS.indexOf(name) >= 0 || (name === 'href' && el.localName !== 'a' && el.localName !== 'area')) {
          if (/^cid:/i.test(v) && name !== 'srcset') {
            var u = cidUrl(v, cids, cache);
            if (u !== '')
              el.setAttribute(a.name, u);
            else
              el.removeAttribute(a.name);
          } else if (!/^data:image\//i.test(v)) {
            el.removeAttribute(a.name);
          }
        } else if (name === 'href') {
          if (/^(https?:|mailto:)/i.test(v)) {
            el.setAttribute('target', '_blank');
            el.setAttribute('rel', 'noopener noreferrer');
          } else if (/^#/.test(v)) {
            el.setAttribute('href', 'about:srcdoc' + v);   /* see frameLinks */
            el.setAttribute('target', '_self');
          } else {
            el.removeAttribute(a.name);
          }
        } else if (name === 'style') {
          el.setAttribute('style', cssClean(el.style ? el.style.cssText : v, cids, cache));
        }
      });
    });
    doc.querySelectorAll('style').forEach(function (e) {
      e.textContent = cssClean(cssCanon(e.textContent), cids, cache);
    });
    var head = doc.head || doc.documentElement.insertBefore(doc.createElement('head'), doc.body);
    var meta = doc.createElement('meta');
    meta.setAttribute('http-equiv', 'Content-Security-Policy');
    meta.setAttribute('content', FRAME_CSP);
    var style = doc.createElement('style');
    style.textContent = FRAME_STYLE;
    var base = doc.createElement('base');
    base.setAttribute('target', '_blank');
    head.insertBefore(style, head.firstChild);
    head.insertBefore(base, head.firstChild);
    head.insertBefore(meta, head.firstChild);
    return '<!DOCTYPE html>' + doc.documentElement.outerHTML;
  }

  /* fitFrame - make a frame as tall as its content, when it can be measured */
  function fitFrame(frame) {
    frame.addEventListener('load', function () {
      try {
        var d = frame.contentDocument;
        frame.style.height = '0px';     /* so scrollHeight is the content's, not the frame's */
        var h = Math.max(d.documentElement.scrollHeight, d.body ? d.body.scrollHeight : 0);
        frame.style.height = Math.min(Math.max(h + 4, 80), 200000) + 'px';
      } catch (e) { /* keep the default height */ }
    });
  }

  /* frameLinks - a link to a place in the message (href="#name") scrolls
   * the page to it.  Left to the browser it would open in a new tab (the
   * frame's <base target=_blank>), and the frame, as tall as its content,
   * has nothing to scroll itself. */
  function frameLinks(frame) {
    frame.addEventListener('load', function () {
      var d;
      try { d = frame.contentDocument; } catch (e) { d = null; }
      if (!d)
        return;
      d.addEventListener('click', function (ev) {
        var a = ev.target && ev.target.closest ? ev.target.closest('a[href], area[href]') : null;
        var href = a ? a.getAttribute('href').trim() : '';
        if (href.indexOf('about:srcdoc#') !== 0)
          return;
        ev.preventDefault();
        var name = href.slice('about:srcdoc#'.length), t = null;
        try { name = decodeURIComponent(name); } catch (e) { /* as written */ }
        if (name !== '')
          t = d.getElementById(name) || d.getElementsByName(name)[0] || null;
        if (t === null && name !== '' && name.toLowerCase() !== 'top')
          return;                       /* no such place: stay */
        var y = frame.getBoundingClientRect().top + (t ? t.getBoundingClientRect().top : 0);
        window.scrollTo(0, Math.max(0, window.pageYOffset + y));
      });
    });
  }

  /* showHtml - a message's HTML into a frame */
  function showHtml(frame, body) {
    fitFrame(frame);
    frameLinks(frame);
    frame.setAttribute('srcdoc', frameDocument(body.html, body.cids));
    frame.hidden = false;
  }

  /* el - a new element with text */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* headerList - the header fields of a nested message */
  function headerList(m) {
    var dl = el('dl', 'headers');
    [['From', m.from], ['To', m.to], ['Cc', m.cc], ['Date', m.date]].forEach(function (f) {
      if (f[1] === '') return;
      var row = el('div');
      row.appendChild(el('dt', '', f[0]));
      row.appendChild(el('dd', '', f[1]));
      dl.appendChild(row);
    });
    return dl;
  }

  /* showText - a text body; one longer than TEXT_CLIP characters is shown
   * up to there, with a button that shows the rest (laying out megabytes of
   * text takes the browser longer than opening the whole envelope) */
  function showText(target, text) {
    var cut = TEXT_CLIP;
    target.hidden = false;
    if (text.length <= TEXT_CLIP) {
      target.textContent = text;
      return;
    }
    if (/[\ud800-\udbff]/.test(text.charAt(cut - 1)))
      cut--;                          /* not between the halves of a surrogate pair */
    target.textContent = text.slice(0, cut);
    var more = el('button', 'show-all', 'Show the whole text (' + (text.length - cut).toLocaleString('en')
                  + ' more characters)');
    more.type = 'button';
    more.addEventListener('click', function () {
      target.textContent = text;
      more.remove();
    });
    target.parentNode.insertBefore(more, target.nextSibling);
  }

  /* showBodies - the bodies of a message; the first text or HTML into the
   * page's fixed elements when fixed is true, the rest after them */
  function showBodies(m, container, fixed) {
    var first = fixed;
    m.bodies.forEach(function (b) {
      if (b.kind === 'message') {
        var sec = el('section', 'nested');
        sec.appendChild(el('h2', 'nested-subject', b.message.subject || '(no subject)'));
        sec.appendChild(headerList(b.message));
        showBodies(b.message, sec, false);
        container.appendChild(sec);
        return;
      }
      var target;
      if (first) {
        target = $(b.kind === 'html' ? 'body-frame' : 'body-text');
        first = false;
      } else {
        target = b.kind === 'html' ? document.createElement('iframe') : el('pre', 'body-text');
        if (b.kind === 'html') {
          target.className = 'body-frame';
          target.setAttribute('sandbox', 'allow-same-origin allow-popups allow-popups-to-escape-sandbox');
          target.setAttribute('title', 'Message part');
        }
        container.appendChild(target);
      }
      if (b.kind === 'html') {
        showHtml(target, b);
      } else {
        showText(target, b.text);
      }
    });
  }

  /* showAttachments - download links for every attachment, nested ones too */
  function showAttachments(m) {
    var list = $('attachments'), all = [];
    (function gather(x) {
      x.attachments.forEach(function (a) { all.push(a); });
      x.bodies.forEach(function (b) { if (b.kind === 'message') gather(b.message); });
    })(m);
    all.forEach(function (a) {
      var bytes = a.part.message !== null && a.part.encoding !== 'base64' && a.part.encoding !== 'quoted-printable'
        ? a.part.body : Mime.partBytes(a.part);
      var li = el('li');
      var link = el('a', 'attachment', a.name);
      link.href = blobUrl(bytes, a.type);
      link.download = a.name;
      link.dataset.name = a.name;
      li.appendChild(link);
      li.appendChild(el('span', 'meta', ' ' + a.type + ', ' + sizeText(bytes.length)));
      list.appendChild(li);
    });
    $('attachments-section').hidden = all.length === 0;
  }

  /* showMessage - the opened message */
  function showMessage(bytes) {
    var m = Mime.analyse(Mime.parse(bytes));
    $('subject').textContent = m.subject || '(no subject)';
    $('from').textContent = m.from;
    $('to').textContent = m.to;
    $('cc').textContent = m.cc;
    $('cc-row').hidden = m.cc === '';
    $('date').textContent = m.date;
    showBodies(m, $('parts'), true);
    showAttachments(m);
    if (m.truncated)
      $('parts').appendChild(el('p', 'note', 'Part of this message is missing: its structure ends early.'));
    var name = Mime.safeName((m.subject || 'message').slice(0, 80)) || 'message';
    var dl = $('download-eml');
    dl.onclick = function () {
      var a = document.createElement('a');
      a.href = blobUrl(plaintext, 'message/rfc822');
      a.download = name + '.eml';
      document.body.appendChild(a);
      a.click();
      a.remove();
    };
    $('locked').hidden = true;
    $('message').hidden = false;
    document.title = m.subject || document.title;
    setState('open');
    var h = $('subject');
    h.setAttribute('tabindex', '-1');
    h.focus();
  }

  var envelopeBytes = null, personalSlots = 0;

  /* envelopeText - the base64 text of the envelope: the texts of its blocks in
   * document order, joined once; with atLeast, only the first blocks that give
   * that many characters */
  function envelopeText(atLeast) {
    var blocks = document.querySelectorAll('script[type="application/x-mailseal-envelope"]');
    var parts = [], n = 0;
    for (var i = 0; i < blocks.length && !(atLeast && n >= atLeast); i++) {
      parts.push(blocks[i].textContent);
      n += parts[i].length;
    }
    return parts.join('');
  }

  /* countPersonal - the number of personal passphrase slots (kind 1), read
   * from the start of the embedded envelope; 0 when it cannot be read */
  function countPersonal() {
    try {
      var s = envelopeText(262144).slice(0, 262144).replace(/[\t\n\f\r ]+/g, '');
      var h = Env.parseHeader(Env.decodeEmbedded(s.slice(0, s.length - s.length % 4)));
      return h.slots.filter(function (x) { return x.kind === 1; }).length;
    } catch (e) {
      return 0;
    }
  }

  /* askAddress - with several personal passphrases, the reader's address
   * finds theirs at once (docs/ENVELOPE.md, hints): say so by the field */
  function askAddress() {
    personalSlots = countPersonal();
    if (personalSlots < 2)
      return;
    $('email-note').textContent = 'This message is for several people: your address finds your key at once.';
    $('email-note').hidden = false;
  }

  /* unlock - the submit handler: open the envelope and show the message */
  async function unlock(ev) {
    ev.preventDefault();
    var pass = $('passphrase').value, email = $('email').value;
    if (pass === '') {
      showError('Enter your passphrase.');
      $('passphrase').focus();
      return;
    }
    var button = $('open'), progress = $('progress');
    $('error').hidden = true;
    $('error').textContent = '';
    button.disabled = true;
    setState('decrypting');
    status(personalSlots > 4 && email === ''
      ? 'Trying each of the ' + personalSlots + ' personal keys: this takes a few seconds. '
        + 'Your email address makes it quick.'
      : 'Checking the passphrase\u2026');
    try {
      if (envelopeBytes === null)
        envelopeBytes = Env.decodeEmbedded(envelopeText());
      var last = 0;
      plaintext = await Env.open(envelopeBytes, pass, email, {
        onProgress: function (done, total) {
          if (total < 8) return;
          var now = Date.now();
          if (done !== total && now - last < 100) return;
          last = now;
          progress.hidden = false;
          progress.max = total;
          progress.value = done;
          status('Decrypting\u2026 ' + Math.floor(done * 100 / total) + '%');
        }
      });
      progress.hidden = true;
      $('passphrase').value = '';
      status('Message opened.');
      showMessage(plaintext);
    } catch (e) {
      progress.hidden = true;
      status('');
      showError(e && e.name === 'EnvelopeError' ? e.message : 'The message could not be opened: ' + (e && e.message ? e.message : e));
      button.disabled = false;
      if (!e || e.code === 'passphrase') {
        $('passphrase').select();
        $('passphrase').focus();
      }
      return;
    }
    button.disabled = false;
  }

  /* start - show the form, or say why this browser cannot open the message */
  function start() {
    $('noscript-note').hidden = true;
    $('howto').classList.add('scripted');
    if (!root.crypto || !root.crypto.subtle || typeof TextDecoder === 'undefined') {
      showError('This browser cannot open the message: it does not offer WebCrypto (crypto.subtle)'
        + (root.isSecureContext === false ? ' on a page opened this way' : '')
        + '. Save the file to your device and open it in a current Firefox, Chrome, Edge or Safari.');
      return;
    }
    $('unlock').hidden = false;
    askAddress();
    $('unlock').addEventListener('submit', unlock);
    $('show-passphrase').addEventListener('change', function () {
      $('passphrase').type = this.checked ? 'text' : 'password';
    });
    window.addEventListener('pagehide', function () { urls.forEach(URL.revokeObjectURL); });
    setState('locked');
    $('passphrase').focus();
  }

  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', start);
  else
    start();
})(typeof globalThis === 'object' ? globalThis : this);
