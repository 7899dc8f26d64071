#!/usr/bin/env python3
"""test_viewer_hostile - the viewer is not an attack surface (headless Chromium).

Hostile messages are wrapped with the real tool (`mailseal encrypt
--passphrase-file`), and drive_chromium_hostile.mjs opens each page in
Debian's Chromium, types the passphrase, then hovers, focuses and clicks
every element of the shown message (the sandboxed body frames and their
open shadow roots too), submits any form that is left, presses Enter in
every field and downloads every attachment and the .eml.  Every URL in a
payload points to a local HTTP server on 127.0.0.1 (a free port) that
counts the connections it accepts.  Assertions are made here, per case:

- nothing executes: every payload sets document.title and
  top.document.title to PWNED-<tag>, sets top.mailsealSentinel and a global
  `pwned`, marks its document and posts a message to the top page; the top
  page's title (the message's subject once opened), the sentinel the driver
  set, the posted messages, each frame's globals and marks, dialogs and
  popups are checked after load, after opening and after the interaction;
- nothing is fetched: no request of any page or frame outside file:, data:
  and blob: (the driver's context.route('**') aborts and counts the rest;
  requests the engine refused, the Content-Security-Policy's included,
  count too), no WebSocket, and the local server accepted no connection;
- names are text: Subject, From, To, Cc, Date, the nested message's
  headers and every attachment name appear literally in the page's text
  (attachment names as Mime.safeName makes them: no path separator, no
  C0/C1 control, bidi override or zero-width space), the opened message
  holds only the elements the viewer makes (no <b>, <img>, <script>, ...
  and no on* attribute came from them), and every downloaded file's
  suggested name has no path separator or such control character.

Cases: active (scripts inline, src= and data:, event handlers, javascript:,
vbscript: and data: links, forms with remote actions and submit buttons,
meta refresh, base href, iframe/object/embed remote and data:, SVG script
and animation, a declarative shadow root, cid: references to HTML and SVG
parts), remote (img src/srcset, picture, background attributes, video,
audio, input image, SVG image/use/feImage, CSS @import, url(), image-set(),
@font-face, CSS escapes such as u\72l( and @\69mport), names (hostile
header fields and attachment names, a text body) and nested (two HTML
bodies and a message/rfc822 part, each in its own frame).  No case has a
plain http(s) or mailto: link: following a link the reader clicks is what
the viewer means to allow (a new tab, noopener noreferrer).

The interaction must have reached the message: the driver reports how
many elements it clicked in each body frame, and each case's marker text
must be shown in a frame.

Needs MAILSEAL_CLI (set by ctest), /usr/bin/chromium and
tests/browser/node_modules (tests/browser/install.sh).  MAILSEAL_E2E_KEEP=1
keeps the work directory (pages, manifest, results).  Python standard
library only, plus the helpers of test_browsers.py.
"""

import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_browsers import artifact_dir, b64lines, bword, html_of, png, short  # noqa: E402
from mailseal_e2e import crlf  # noqa: E402  (test_browsers puts tests/e2e on the path)

CLI = os.environ.get("MAILSEAL_CLI")
CHROMIUM = os.environ.get("MAILSEAL_CHROMIUM", "/usr/bin/chromium")
DRIVER = HERE / "drive_chromium_hostile.mjs"
DRIVER_TIMEOUT = 150
PASS = "hostile test passphrase 7"
RCPT = "bob@partner.test"
ALLOWED_SCHEMES = ("file:", "data:", "blob:")
SENTINEL = "intact"                    # top.mailsealSentinel, set by the driver before unlocking
MARKER = "HOSTILE-BODY-SHOWN"          # text each HTML body shows, so the frame is known to be there


# ---------------------------------------------------------------------------
# the counting HTTP server every payload URL points to

class Trap:
    """A local HTTP server that counts every connection and request line."""

    def __init__(self):
        trap = self
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self):
                with trap.lock:
                    trap.connections += 1
                super().setup()

            def handle_one_request(self):
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                with trap.lock:
                    trap.requests.append(self.raw_requestline.decode("latin-1").strip())
                self.close_connection = True
                body = b"/* trap */ top.document.title='PWNED-trap';"
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/javascript\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def seen(self):
        with self.lock:
            return self.connections, list(self.requests)


# ---------------------------------------------------------------------------
# the payloads

def js(tag, port):
    """js - what every payload runs: change both titles, the top page's
    sentinel, a global, the document's mark, post a message and ask the
    trap for a URL.  Single quotes only, so it fits a double-quoted
    attribute."""
    steps = ["document.title='PWNED-%s'" % tag,
             "top.document.title='PWNED-%s'" % tag,
             "top.mailsealSentinel='pwned-%s'" % tag,
             "window.pwned='%s'" % tag,
             "document.documentElement.dataset.pwned='%s'" % tag,
             "top.postMessage('pwned-%s','*')" % tag,
             "new Image().src='http://127.0.0.1:%d/exec-%s'" % (port, tag)]
    return "".join("try{%s}catch(e){}" % s for s in steps)


def data_html(tag, port):
    """data_html - a data: URL of an HTML document with a script payload."""
    return "data:text/html," + urllib.parse.quote("<script>%s</script>" % js(tag, port), safe="")


def svg_doc(tag, port):
    """svg_doc - an SVG document with a script, an onload handler and a remote image."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            'width="40" height="20" onload="%s"><script>%s</script>'
            '<image href="http://127.0.0.1:%d/svg-image-%s" width="10" height="10"/>'
            '<rect id="r" width="40" height="20" fill="red"/></svg>'
            % (js(tag + "-onload", port), js(tag + "-script", port), port, tag))


def active_html(port):
    """active_html - scripts, handlers, javascript:/data: links, forms,
    refresh, base, frames, objects, SVG script, declarative shadow DOM."""
    u = "http://127.0.0.1:%d" % port
    J = lambda tag: js(tag, port)      # noqa: E731
    return textwrap.dedent("""\
        <!DOCTYPE html>
        <html><head>
        <meta http-equiv="refresh" content="0;url={u}/refresh">
        <meta http-equiv="refresh" content="1;url=javascript:{jq_refresh}">
        <meta http-equiv="Content-Security-Policy" content="script-src * 'unsafe-inline'">
        <base href="{u}/base/">
        <script>{j_inline}</script>
        <script src="{u}/script-src.js"></script>
        <script src="{data_js}"></script>
        <link rel="stylesheet" href="{u}/link.css">
        <link rel="prefetch" href="{u}/prefetch">
        <link rel="preconnect" href="{u}">
        <link rel="dns-prefetch" href="//trap.invalid">
        <link rel="import" href="{u}/import.html">
        <title>hostile active content</title>
        </head>
        <body onload="{j_body_onload}" onpageshow="{j_pageshow}">
        <p id="marker">{marker} active</p>
        <img id="onerror" src="x" onerror="{j_img_onerror}" alt="broken">
        <img id="onload" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onload="{j_img_onload}" alt="">
        <div id="hover" onmouseover="{j_mouseover}" onmouseenter="{j_mouseenter}" style="padding:8px">hover here</div>
        <button id="btn" onclick="{j_click}" type="button">click me</button>
        <p><a id="js-link" href="javascript:{jq_link}">javascript link</a></p>
        <p><a id="js-link-case" href=" JaVaScRiPt:{jq_case}">mixed-case javascript link</a></p>
        <p><a id="js-link-entity" href="jav&#x09;ascript:{jq_entity}">entity javascript link</a></p>
        <p><a id="js-link-blank" href="javascript:{jq_blank}" target="_blank">javascript link, new window</a></p>
        <p><a id="data-link" href="{data_link}">data: HTML link</a></p>
        <p><a id="data-link-blank" href="{data_link_blank}" target="_blank">data: HTML link, new window</a></p>
        <p><a id="vb-link" href="vbscript:msgbox(1)">vbscript link</a></p>
        <p><a id="hash-link" href="#marker" onclick="{j_hash_click}">fragment link with onclick</a></p>
        <p><a id="ping-link" href="#marker" ping="{u}/ping">fragment link with ping</a></p>
        <p><a id="download-link" href="{data_link}" download="evil.html">download attribute link</a></p>
        <map name="m"><area id="area" shape="rect" coords="0,0,50,50" href="javascript:{jq_area}" alt="area"></map>
        <img usemap="#m" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="50" height="50" alt="map">
        <form id="form" action="{u}/form" method="post">
          <input name="q" value="secret" onfocus="{j_focus}" autofocus>
          <button id="submit" type="submit">Send</button>
          <input type="submit" value="Submit too">
          <input type="image" src="{u}/input-image.png" alt="image submit">
        </form>
        <form action="javascript:{jq_form_js}"><button type="submit">js form</button></form>
        <button id="formaction" form="form" formaction="{u}/formaction" type="submit">formaction</button>
        <details id="details" ontoggle="{j_toggle}" open><summary>details</summary>text</details>
        <input id="autofocus" onfocus="{j_focus2}" autofocus value="focus">
        <iframe id="if-remote" src="{u}/iframe"></iframe>
        <iframe id="if-data" src="{data_iframe}"></iframe>
        <iframe id="if-srcdoc" srcdoc="&lt;script&gt;{j_srcdoc_e}&lt;/script&gt;"></iframe>
        <iframe id="if-js" src="javascript:'&lt;script&gt;{jq_ifjs}&lt;/script&gt;'"></iframe>
        <object id="obj-remote" data="{u}/object"></object>
        <object id="obj-data" data="{data_object}" type="text/html"></object>
        <embed id="embed-remote" src="{u}/embed">
        <embed id="embed-data" src="{data_embed}" type="image/svg+xml">
        <svg id="svg" width="60" height="30" onload="{j_svg_onload}"><script>{j_svg_script}</script>
          <a id="svg-link" xlink:href="javascript:{jq_svg_link}" href="javascript:{jq_svg_link2}"><text x="0" y="20">svg link</text></a>
          <set attributeName="onmouseover" to="{j_svg_set}"/>
          <animate attributeName="href" values="javascript:{jq_svg_anim}"/>
          <image href="{u}/svg-image.png" width="10" height="10"/>
          <foreignObject width="60" height="30"><img src="x" onerror="{j_fo}"></foreignObject>
        </svg>
        <math><mtext><a href="javascript:{jq_math}">math link</a></mtext></math>
        <img src="cid:evil-svg@hostile" id="cid-svg" alt="svg image">
        <img src="cid:evil-html@hostile" alt="html part as an image">
        <a id="cid-link" href="cid:evil-html@hostile">cid: link to an HTML part</a>
        <iframe src="cid:evil-html@hostile"></iframe><object data="cid:evil-html@hostile"></object>
        <embed src="cid:evil-svg@hostile"><video src="cid:evil-html@hostile"></video>
        <svg width="40" height="20"><use href="cid:evil-svg@hostile#r"/><image href="cid:evil-svg@hostile" width="40" height="20"/></svg>
        <div id="shadow-host"><template shadowrootmode="open">
          <p>{marker} shadow</p>
          <script>{j_shadow_script}</script>
          <img src="x" onerror="{j_shadow_img}" alt="shadow img">
          <img src="{u}/shadow-img.png" alt="shadow remote img">
          <a id="shadow-js" href="javascript:{jq_shadow_link}">shadow javascript link</a>
          <form action="{u}/shadow-form" method="post"><input name="q" value="s"><button type="submit">shadow submit</button></form>
          <style>@import url({u}/shadow-import.css); p {{ background: url({u}/shadow-bg.png) }}</style>
          <iframe src="{u}/shadow-iframe"></iframe>
          <meta http-equiv="refresh" content="0;url={u}/shadow-refresh">
        </template></div>
        <noscript><img src="{u}/noscript.png" alt=""></noscript>
        <marquee onstart="{j_marquee}">marquee</marquee>
        <video id="video" src="x" onerror="{j_video}"></video>
        <audio src="x" onerror="{j_audio}"></audio>
        <portal src="{u}/portal"></portal>
        <isindex action="{u}/isindex">
        </body></html>
        """).format(
        u=u, marker=MARKER,
        j_inline=J("inline-script"), data_js="data:text/javascript," + urllib.parse.quote(J("data-script")),
        jq_refresh=urllib.parse.quote(J("refresh-js")),
        j_body_onload=J("body-onload"), j_pageshow=J("pageshow"),
        j_img_onerror=J("img-onerror"), j_img_onload=J("img-onload"),
        j_mouseover=J("onmouseover"), j_mouseenter=J("onmouseenter"), j_click=J("onclick"),
        jq_link=J("js-link"), jq_case=J("js-link-case"), jq_entity=J("js-link-entity"),
        jq_blank=J("js-link-blank"),
        data_link=data_html("data-link", port), data_link_blank=data_html("data-link-blank", port),
        j_hash_click=J("hash-onclick"), jq_area=J("area-link"), j_focus=J("onfocus"),
        jq_form_js=J("form-js"), j_toggle=J("ontoggle"), j_focus2=J("onfocus-autofocus"),
        data_iframe=data_html("iframe-data", port), j_srcdoc_e=J("iframe-srcdoc"),
        jq_ifjs=J("iframe-js"), data_object=data_html("object-data", port),
        data_embed="data:image/svg+xml," + urllib.parse.quote(svg_doc("embed-svg", port), safe=""),
        j_svg_onload=J("svg-onload"), j_svg_script=J("svg-script"), jq_svg_link=J("svg-xlink"),
        jq_svg_link2=J("svg-href"), j_svg_set=J("svg-set"), jq_svg_anim=J("svg-animate"),
        j_fo=J("svg-foreignobject"), jq_math=J("math-link"),
        j_shadow_script=J("shadow-script"), j_shadow_img=J("shadow-onerror"),
        jq_shadow_link=J("shadow-js-link"), j_marquee=J("marquee"), j_video=J("video-onerror"),
        j_audio=J("audio-onerror"))


def remote_html(port):
    """remote_html - every way an HTML body or its CSS asks for a URL."""
    u = "http://127.0.0.1:%d" % port
    return textwrap.dedent("""\
        <!DOCTYPE html>
        <html><head>
        <style>
        @import url({u}/import-url.css);
        @import "{u}/import-string.css";
        @\\69mport "{u}/import-escaped.css";
        @font-face {{ font-family: trap; src: url({u}/font.woff2) format("woff2"), url('{u}/font.ttf'); }}
        @font-face {{ font-family: trap2; src: u\\72l({u}/font-escaped.woff); }}
        body {{ background: url("{u}/body-bg.png"); font-family: trap, trap2, sans-serif; }}
        .a {{ background-image: image-set("{u}/image-set.png" 1x, url({u}/image-set2.png) 2x); }}
        .b {{ list-style-image: url({u}/list.png); cursor: url({u}/cursor.cur), auto; }}
        .c {{ border-image: url({u}/border.png) 30 round; }}
        .d {{ mask-image: url({u}/mask.png); -webkit-mask-image: url({u}/wmask.png); }}
        .e {{ content: url({u}/content.png); }}
        .f {{ background: \\75rl({u}/escaped-url.png); }}
        .g::after {{ content: "x"; background: url(//127.0.0.1:{port}/proto-relative.png); }}
        </style>
        <link rel="icon" href="{u}/favicon.ico">
        </head>
        <body background="{u}/body-background.png">
        <p id="marker">{marker} remote</p>
        <img id="img" src="{u}/img.png" alt="remote img">
        <img src="//127.0.0.1:{port}/img-proto-relative.png" alt="proto-relative img">
        <img src=" {u}/img-space.png" alt="spaced img">
        <img srcset="{u}/srcset-1x.png 1x, {u}/srcset-2x.png 2x" alt="srcset img">
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" srcset="{u}/srcset-only.png 1x" alt="srcset with data src">
        <img lowsrc="{u}/lowsrc.png" dynsrc="{u}/dynsrc.avi" longdesc="{u}/longdesc" alt="old attributes">
        <img loading="lazy" src="{u}/lazy.png" alt="lazy">
        <picture><source srcset="{u}/picture-source.webp" type="image/webp"><source media="(min-width: 1px)" srcset="{u}/picture-media.png"><img src="{u}/picture-img.png" alt="picture"></picture>
        <table background="{u}/table-background.png"><tr><td background="{u}/td-background.png">cell</td></tr></table>
        <div style="background:url({u}/style-attr.png)">style url</div>
        <div style="background-image:url(&quot;{u}/style-attr-quoted.png&quot;)">style quoted url</div>
        <div style="background:u\\72l({u}/style-attr-escaped.png)">style escaped url</div>
        <div style="background-image:image-set('{u}/style-image-set.png' 1x)">style image-set</div>
        <div class="a b c d e f g">classes</div>
        <ul class="b"><li>list item</li></ul>
        <video poster="{u}/poster.png" src="{u}/video.mp4" controls><source src="{u}/source.mp4"><track src="{u}/track.vtt"></video>
        <audio src="{u}/audio.mp3" controls></audio>
        <input type="image" src="{u}/input-image.png" alt="input image">
        <svg width="40" height="40"><image href="{u}/svg-image.png" width="10" height="10"/><image xlink:href="{u}/svg-xlink.png" width="10" height="10"/>
          <use href="{u}/use.svg#x"/><filter id="f"><feImage href="{u}/feimage.png"/></filter><rect width="5" height="5" filter="url(#f)"/></svg>
        <img src="cid:pixel@hostile" id="inline-ok" alt="inline image">
        <a id="bg-link" href="#marker" style="background:url({u}/link-bg.png)">fragment link with a background</a>
        </body></html>
        """).format(u=u, port=port, marker=MARKER)


def nested_html(port):
    """nested_html - the HTML body of a message/rfc822 part and a second
    HTML body: each in its own frame."""
    u = "http://127.0.0.1:%d" % port
    return ('<html><body onload="{j1}"><p>{marker} nested</p>'
            '<img src="x" onerror="{j2}" alt="x"><img src="{u}/nested-img.png" alt="remote">'
            '<a href="javascript:{j3}">nested javascript link</a>'
            '<form action="{u}/nested-form"><button>nested submit</button></form>'
            '<script>{j4}</script></body></html>').format(
        u=u, marker=MARKER, j1=js("nested-onload", port), j2=js("nested-onerror", port),
        j3=js("nested-js-link", port), j4=js("nested-script", port))


HTML_NAME = '<img src=x onerror="document.title=\'PWNED-name\'">.txt'
ATTACHMENT_NAMES = [          # (header parameter as written, name the sender meant)
    ('filename="%s"' % HTML_NAME.replace('"', '\\"'), HTML_NAME),
    ('filename="<b>bold</b> <script>top.mailsealSentinel=1</script>.html"',
     "<b>bold</b> <script>top.mailsealSentinel=1</script>.html"),
    ('filename="../../etc/passwd"', "../../etc/passwd"),
    ('filename="C:\\\\x\\\\y.txt"', "C:\\x\\y.txt"),
    ("filename*=utf-8''..%5C..%5Cwindows%5Csystem32%5Cevil.dll", "..\\..\\windows\\system32\\evil.dll"),
    ("filename*=utf-8''ctl%0D%0AX-Injected%3A%20yes%1B%5B31m%07%00end.txt",
     "ctl\r\nX-Injected: yes\x1b[31m\x07\x00end.txt"),
    ('filename="%s"' % bword('<svg onload="top.document.title=\'PWNED-bword\'">/tmp/x.svg'),
     '<svg onload="top.document.title=\'PWNED-bword\'">/tmp/x.svg'),
    ('filename=".hidden/../&lt;i&gt;entity&amp;.txt"', ".hidden/../&lt;i&gt;entity&amp;.txt"),
    # bidi override (shown as "invoice_exe.pdf"), C1 control, zero-width joiner: format controls
    ("filename*=utf-8''invoice%E2%80%AEfdp.exe", "invoice\u202efdp.exe"),
    ("filename*=utf-8''c1%C2%85%C2%9Bx%E2%81%A6y%E2%80%8Fz%E2%80%8B.txt", "c1\x85\x9bx\u2066y\u200fz\u200b.txt"),
]
# what no shown or offered name may hold: C0 and C1 controls, DEL, bidi
# marks, embeddings, overrides and isolates, zero-width space, word joiner,
# BOM (Mime.safeName; ZWNJ and ZWJ may stay)
CONTROLS = "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"


def safe_name(name):
    """safe_name - the name the viewer shows and offers (Mime.safeName)."""
    name = re.sub(CONTROLS[:-1] + "/\\\\]+", "_", name)
    name = re.sub(r"^[\s.]+|\s+$", "", name)
    return name[:200]


SUBJECT = '<img src=x onerror="top.document.title=\'PWNED-subject\'"><b>Subject</b> & <script>top.mailsealSentinel=2</script>'
FROM = '"<b>Mallory</b> <img src=x onerror=top.mailsealSentinel=3>" <mallory@evil.test>'
TO = '"<b>Bob</b>" <%s>, "<a href=javascript:top.mailsealSentinel=6>x</a>" <x@partner.test>' % RCPT
CC_NAME = '<img src=x onerror="top.mailsealSentinel=7"> Carol'
CC = "%s <carol@partner.test>" % CC_NAME
DATE = "<script>top.mailsealSentinel=8</script> Mon, 1 Jan 2024"
NESTED_SUBJECT = "<iframe src=javascript:top.mailsealSentinel=4></iframe> nested"
NESTED_FROM = '"<svg onload=top.mailsealSentinel=5>" <erin@evil.test>'


def message(subject, from_, body_parts, boundary="hostile-b1", to="Bob <%s>" % RCPT, cc=None,
            date="Mon, 1 Jan 2024 00:00:00 +0000"):
    """message - a multipart/mixed message of the given parts (strings
    with their own header block)."""
    head = ("From: %s\nTo: %s\n%sSubject: %s\nDate: %s\n"
            "Message-ID: <hostile-%s@example.com>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"%s\"\n\n" % (
                from_, to, "Cc: %s\n" % cc if cc else "", subject, date, os.urandom(5).hex(), boundary))
    body = "".join("--%s\n%s\n" % (boundary, p) for p in body_parts) + "--%s--\n" % boundary
    return crlf(head + body)


def related(html, images):
    """related - a multipart/related part of an HTML body and inline images
    [(content id, type, bytes)]."""
    parts = ["Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
             + b64lines(html.encode())]
    for cid, ctype, data in images:
        parts.append("Content-Type: %s\nContent-ID: <%s>\nContent-Transfer-Encoding: base64\n\n%s"
                     % (ctype, cid, b64lines(data)))
    b = "hostile-rel-" + os.urandom(3).hex()
    return ("Content-Type: multipart/related; boundary=\"%s\"\n\n" % b
            + "".join("--%s\n%s\n" % (b, p) for p in parts) + "--%s--\n" % b)


CASES = ("active", "remote", "names", "nested")


def build_cases(port):
    """build_cases - {name: (message bytes, expectations)}."""
    cases = {}
    cases["active"] = (message("hostile active content", "Ann <ann@example.com>", [
        related(active_html(port), [
            ("evil-svg@hostile", "image/svg+xml", svg_doc("cid-svg", port).encode()),
            ("evil-html@hostile", "text/html",
             ("<script>%s</script><img src=x onerror=\"%s\">" % (js("cid-html", port), js("cid-html-onerror", port))).encode())])]),
        {"subject": "hostile active content", "frames_min": 1})
    cases["remote"] = (message("hostile remote content", "Ann <ann@example.com>", [
        related(remote_html(port), [("pixel@hostile", "image/png", png(8, 8))])]),
        {"subject": "hostile remote content", "frames_min": 1})
    atts = []
    for i, (param, _) in enumerate(ATTACHMENT_NAMES):
        body = ("<script>%s</script>attachment %d\n" % (js("attachment-%d" % i, port), i)).encode()
        atts.append("Content-Type: text/html; name=\"a%d\"\nContent-Disposition: attachment; %s\n"
                    "Content-Transfer-Encoding: base64\n\n%s" % (i, param, b64lines(body)))
    svg = svg_doc("svg-attachment", port).encode()
    atts.append("Content-Type: image/svg+xml\nContent-Disposition: attachment; filename=\"evil.svg\"\n"
                "Content-Transfer-Encoding: base64\n\n%s" % b64lines(svg))
    cases["names"] = (message(bword(SUBJECT), FROM, to=TO, cc="%s <carol@partner.test>" % bword(CC_NAME),
                              date=DATE, body_parts=[
        "Content-Type: text/plain; charset=utf-8\n\n%s names\n<script>%s</script>\n"
        % (MARKER, js("text-body", port))] + atts),
        {"subject": SUBJECT, "from": FROM, "to": TO, "cc": CC, "date": DATE,
         "attachments": [safe_name(n) for _, n in ATTACHMENT_NAMES] + ["evil.svg"],
         "frames_min": 0})
    nested = ("From: %s\nTo: %s\nSubject: %s\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                  "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n%s\n"
                  % (NESTED_FROM, RCPT, NESTED_SUBJECT, nested_html(port)))
    cases["nested"] = (message("hostile nested message", "Ann <ann@example.com>", [
        "Content-Type: text/html; charset=utf-8\n\n" + nested_html(port).replace("nested", "first"),
        "Content-Type: text/html; charset=utf-8\nContent-Disposition: inline\n\n"
        + nested_html(port).replace("nested", "second"),
        "Content-Type: message/rfc822\n\n" + nested]),
        {"subject": "hostile nested message", "frames_min": 3,
         "text": [NESTED_SUBJECT, NESTED_FROM],
         "attachments": [safe_name(NESTED_SUBJECT + ".eml")]})
    return cases


# ---------------------------------------------------------------------------
# the test

def collapse(text):
    return " ".join((text or "").split())


class ViewerHostile(unittest.TestCase):
    """Hostile messages open in Chromium without running or fetching anything."""

    @classmethod
    def setUpClass(cls):
        if not CLI or not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("MAILSEAL_CLI does not name the mailseal tool")
        if not os.path.exists(CHROMIUM):
            raise AssertionError("%s is not installed (run tests/browser/install.sh)" % CHROMIUM)
        if not (HERE / "node_modules" / "playwright-core").is_dir():
            raise AssertionError("playwright-core missing: run tests/browser/install.sh")
        cls.dir = tempfile.mkdtemp(prefix="mailseal-hostile-")
        os.chmod(cls.dir, 0o755)
        cls.traps = {name: Trap().start() for name in CASES}   # one per case
        try:
            cls.make_pages()
            cls.run_driver()
        except BaseException:
            cls.tearDownClass()
            raise
        finally:
            for trap in cls.traps.values():
                trap.stop()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("MAILSEAL_E2E_KEEP"):
            print("kept hostile work directory %s" % cls.dir)
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def write(cls, name, data):
        path = os.path.join(cls.dir, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    @classmethod
    def make_pages(cls):
        """make_pages - each case's message wrapped by `mailseal encrypt`."""
        t0 = time.monotonic()
        os.mkdir(os.path.join(cls.dir, "rules.d"))
        cls.write("rules.d/10.yaml", "rules: []\n")
        passfile = cls.write("pass", PASS + "\n")
        secrets = os.path.join(cls.dir, "secrets")
        r = subprocess.run([CLI, "secret", "set", "-f", secrets, "--passphrase-file", passfile,
                            "--iterations", "100000", "nobody@elsewhere.test"],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("mailseal secret set: %s" % r.stderr.decode())
        config = cls.write("mailseal.yaml", textwrap.dedent("""\
            organization: {name: Example, domains: [example.com]}
            rules: rules.d
            envelope:
              secrets_file: %s
              random_passphrase: never
            """) % secrets)
        cls.cases = {name: build_cases(cls.traps[name].port)[name] for name in CASES}
        cls.pages = {}
        for name, (data, _) in cls.cases.items():
            r = subprocess.run([CLI, "encrypt", "-c", config, "--from", "ann@example.com",
                                "--to", RCPT, "--passphrase-file", passfile],
                               input=data, capture_output=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError("mailseal encrypt %s: %s" % (name, r.stderr.decode()))
            cls.pages[name] = cls.write("%s.html" % name, html_of(r.stdout))
        print("hostile pages made in %.1f s (%s), traps on 127.0.0.1 ports %s" % (
            time.monotonic() - t0, cls.dir, ", ".join("%s %d" % (n, t.port) for n, t in cls.traps.items())),
            flush=True)

    @classmethod
    def run_driver(cls):
        """run_driver - the driver over every case; cls.results."""
        manifest = {"sentinel": SENTINEL,
                    "cases": [{"name": n, "html": p, "passphrase": PASS,
                               "trap": "http://127.0.0.1:%d" % cls.traps[n].port}
                              for n, p in cls.pages.items()]}
        mpath = cls.write("manifest.json", json.dumps(manifest, indent=1))
        cls.out = artifact_dir("chromium-hostile")
        shutil.rmtree(cls.out, ignore_errors=True)
        os.makedirs(cls.out)
        t0 = time.monotonic()
        try:
            p = subprocess.run(["node", str(DRIVER), mpath, cls.out], cwd=str(HERE),
                               capture_output=True, timeout=DRIVER_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("driver still running after %d s:\n%s" % (
                DRIVER_TIMEOUT, (e.stderr or b"").decode("utf-8", "replace")[-4000:]))
        log = (p.stdout + p.stderr).decode("utf-8", "replace")
        print("--- hostile driver (%.1f s, exit %d) ---\n%s" % (
            time.monotonic() - t0, p.returncode, log[-4000:]), flush=True)
        if p.returncode == 77:
            raise AssertionError("chromium is not installed (run tests/browser/install.sh)")
        if p.returncode != 0:
            raise AssertionError("driver failed (exit %d)" % p.returncode)
        with open(os.path.join(cls.out, "results.json"), encoding="utf-8") as f:
            cls.results = json.load(f)
        cls.trap_seen = {n: t.seen() for n, t in cls.traps.items()}

    # -- helpers

    def result(self, name):
        res = self.results["cases"].get(name)
        self.assertIsNotNone(res, "%s: no result from the driver" % name)
        self.assertNotIn("driver_error", res, "%s: %s" % (name, (res or {}).get("driver_error")))
        return res

    def check_common(self, name):
        """check_common - nothing ran, nothing was fetched; the message opened."""
        res = self.result(name)
        want = self.cases[name][1]
        subject = collapse(want["subject"])
        with self.subTest(case=name, check="opened"):
            self.assertEqual(res["state"], "open", "%s: state (error %r)" % (name, res.get("error")))
        for stage in ("loaded", "opened", "interacted"):
            st = res["stages"].get(stage)
            with self.subTest(case=name, stage=stage, check="top page"):
                self.assertIsNotNone(st, "%s: no %s snapshot" % (name, stage))
                # locked: the template's title (also its h1); open: the subject
                expected_title = collapse(st["h1_title"]) if stage == "loaded" else subject
                self.assertEqual(st["title"], expected_title, "%s/%s: top document.title" % (name, stage))
                if stage == "loaded":
                    self.assertNotIn("PWNED", st["title"], "%s/%s: title" % (name, stage))
                self.assertEqual(st["sentinel"], SENTINEL, "%s/%s: top.mailsealSentinel" % (name, stage))
                self.assertEqual(st["messages"], [], "%s/%s: messages posted to the top page" % (name, stage))
                self.assertEqual(st["top_pwned"], None, "%s/%s: pwned mark or global in the top page"
                                 % (name, stage))
            with self.subTest(case=name, stage=stage, check="frames"):
                ran = [f for f in st["frames"] if f["pwned"] is not None
                       or "PWNED" in (f["title"] or "")]
                self.assertEqual(ran, [], "%s/%s: a payload ran in these frames" % (name, stage))
        with self.subTest(case=name, check="dialogs and popups"):
            self.assertEqual(res["dialogs"], [], "%s: dialogs opened" % name)
            # a fragment link scrolls within the page (viewer.js frameLinks):
            # no copy of the viewer opens in a new tab
            bad = [p for p in res["popups"] if p["url"] != "about:blank"
                   or p.get("pwned") is not None or "PWNED" in (p.get("title") or "")]
            self.assertEqual(bad, [], "%s: popups" % name)
        with self.subTest(case=name, check="requests"):
            outside = [r for r in res["requests"] if not r["url"].startswith(ALLOWED_SCHEMES)]
            self.assertEqual(outside, [], "%s: requests outside file:, data:, blob:" % name)
            self.assertEqual(res["routed_aborts"], [], "%s: requests the route handler aborted" % name)
            self.assertEqual(res["websockets"], [], "%s: WebSockets" % name)
            failed = {u: why for u, why in res["request_failures"].items()
                      if not u.startswith(ALLOWED_SCHEMES)}
            self.assertEqual(failed, {}, "%s: refused requests" % name)
        with self.subTest(case=name, check="interaction reached the message"):
            frames = [f for f in res["body_frames"]]
            self.assertGreaterEqual(len(frames), want["frames_min"], "%s: body frames" % name)
            for f in frames:
                self.assertIn(MARKER, f["text"] or "", "%s: frame %s text" % (name, f["index"]))
                self.assertGreater(f["clicked"], 0, "%s: nothing clicked in frame %s" % (name, f["index"]))
            self.assertGreater(res["top_clicked"], 0, "%s: nothing clicked in the top page" % name)
        with self.subTest(case=name, check="no SVG animation (it could set a handler or href)"):
            for f in frames:
                self.assertEqual(f.get("svg_animations"), [], "%s: frame %s" % (name, f["index"]))
        with self.subTest(case=name, check="sandbox"):
            for f in frames:
                tokens = (f["sandbox"] or "").split()
                self.assertIsNotNone(f["sandbox"], "%s: frame %s has no sandbox" % (name, f["index"]))
                for t in ("allow-scripts", "allow-forms", "allow-top-navigation", "allow-modals"):
                    self.assertNotIn(t, tokens, "%s: frame %s sandbox" % (name, f["index"]))
        with self.subTest(case=name, check="only the viewer's elements"):
            self.assertEqual(res["foreign_elements"], [], "%s: elements the viewer does not make "
                             "in the opened message" % name)
            self.assertEqual(res["handler_attributes"], [], "%s: on* attributes in the top page" % name)
        with self.subTest(case=name, check="downloads"):
            for d in res["downloads"]:
                self.assertIsNone(re.search(r"[/\\]|" + CONTROLS, d["suggested"]),
                                  "%s: download name %r" % (name, d["suggested"]))
                self.assertIsNone(d.get("failure"), "%s: download %r" % (name, d["suggested"]))
        with self.subTest(case=name, check="local trap server"):
            conns, reqs = self.trap_seen[name]
            self.assertEqual((conns, reqs), (0, []), "%s: the trap server on 127.0.0.1 was reached "
                             "(connections, request lines)" % name)
        print("%s: %d frames, clicked %s in frames and %d in the page, %d downloads (%d clicked "
              "twice), %d console lines (%d refusals)" % (
                  name, len(frames), [f["clicked"] for f in frames], res["top_clicked"],
                  len(res["downloads"]), len(res.get("downloads_retried") or []), len(res["console"]),
                  len([c for c in res["console"] if "Refused" in c or "Blocked" in c])), flush=True)
        return res

    def check_names(self, name):
        """check_names - subject, From, nested headers and attachment names as text."""
        res = self.result(name)
        want = self.cases[name][1]
        text = res["message_text"]
        with self.subTest(case=name, check="subject, from, to, cc, date as text"):
            self.assertEqual(res["subject"], collapse(want["subject"]), "%s: #subject" % name)
            for field in ("from", "to", "cc", "date"):
                if field in want:
                    self.assertEqual(res[field], collapse(want[field]), "%s: #%s" % (name, field))
            for t in want.get("text", []):
                self.assertIn(collapse(t), collapse(text), "%s: shown text" % name)
        if "attachments" in want:
            with self.subTest(case=name, check="attachment names as text"):
                self.assertEqual(res["attachment_names"], want["attachments"], "%s: data-name" % name)
                self.assertEqual(res["attachment_texts"], want["attachments"], "%s: link text" % name)
                for n in want["attachments"]:
                    self.assertIn(n, text, "%s: attachment name in the page text" % name)
                    self.assertIsNone(re.search(r"[/\\]|" + CONTROLS, n), "%s: name %r" % (name, n))
            with self.subTest(case=name, check="attachments downloaded"):
                got = [d["suggested"] for d in res["downloads"] if d["source"] == "attachment"]
                self.assertEqual(len(got), len(want["attachments"]), "%s: downloads %r" % (name, got))
                eml = [d for d in res["downloads"] if d["source"] == "eml"]
                self.assertEqual(len(eml), 1, "%s: .eml download" % name)

    def test_active(self):
        self.check_common("active")

    def test_remote(self):
        self.check_common("remote")
        res = self.result("remote")
        with self.subTest(case="remote", check="inline cid: image still shown"):
            imgs = [i for f in res["body_frames"] for i in f["images"] if i["id"] == "inline-ok"]
            self.assertEqual([(i["scheme"], i["natural_width"]) for i in imgs], [("data", 8)])

    def test_names(self):
        self.check_common("names")
        self.check_names("names")

    def test_nested(self):
        self.check_common("nested")
        self.check_names("nested")


if __name__ == "__main__":
    unittest.main()
