// read_page.js - what the viewer page shows, read inside the page the same
// way by every driver (DRIVERS.md, "Results"): the top-level fields, and
// each shown iframe under #body and #parts read through its contentDocument
// (the frames are same-origin sandboxes).  This file is a function BODY
// (ES5, it ends in `return`): drive_webkit.py hands it to Selenium's
// execute_script as it is, the Node drivers evaluate it wrapped as
// `(function () { ... })()`.
var $ = function (id) { return document.getElementById(id); };
var shown = function (e) { return e !== null && !e.hidden && e.getClientRects().length > 0; };
var text = function (id) { return $(id) ? $(id).textContent : null; };
var scheme = function (src) {
  var m = src ? /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(src) : null;
  return src ? (m ? m[1].toLowerCase() : '') : null;
};
var frames = Array.prototype.filter.call(document.querySelectorAll('#body iframe, #parts iframe'),
                                         function (f) { return !f.hidden; })
  .map(function (f) {
    var d = null;
    try { d = f.contentDocument; } catch (e) { d = null; }
    var meta = d ? d.querySelector('meta[http-equiv="Content-Security-Policy" i]') : null;
    return {
      sandbox: f.getAttribute('sandbox'),
      csp: meta ? meta.getAttribute('content') : null,
      text: d && d.body ? d.body.innerText : null,
      images: d ? Array.prototype.map.call(d.images, function (i) {
        return { id: i.id || null, src_scheme: scheme(i.getAttribute('src')),
                 complete: i.complete, natural_width: i.naturalWidth };
      }) : [],
      scripts_ran: d ? Boolean((d.body && d.body.dataset.pwned !== undefined)
                               || d.documentElement.dataset.pwned !== undefined) : null
    };
  });
var bt = $('body-text');
return {
  state: document.body.dataset.state === undefined ? null : document.body.dataset.state,
  secure_context: window.isSecureContext,
  subtle: !!(window.crypto && window.crypto.subtle),
  error: shown($('error')) ? $('error').textContent : '',
  status: text('status'),
  visible_text: document.body.innerText,
  subject: text('subject'), from: text('from'), to: text('to'), cc: text('cc'), date: text('date'),
  body_text: shown(bt) ? bt.innerText : null,
  frames: frames,
  parts_text: $('parts') ? $('parts').innerText : null,
  attachment_names: Array.prototype.map.call(document.querySelectorAll('#attachments a'),
                                             function (a) { return a.dataset.name; }),
  page_pwned: document.body.dataset.pwned !== undefined
};
