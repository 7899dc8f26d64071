#!/usr/bin/python3
"""drive_webkit.py - the WebKit driver of the browser suite (see DRIVERS.md).

Opens each envelope page of a manifest in WebKitGTK's MiniBrowser, driven by
Selenium (Debian's python3-selenium) through WebKitWebDriver, operates it like
a person and writes what it saw to OUTDIR/results.json.  It asserts nothing.

    xvfb-run -a python3 drive_webkit.py MANIFEST OUTDIR

Exit status: 0 when every case could be run (whatever it saw), 77 when
WebKitGTK's MiniBrowser or WebKitWebDriver is not installed, 2 on a usage or
internal error.  When the python3 on PATH lacks selenium (a pyenv python, say)
the driver runs itself again with /usr/bin/python3; without DISPLAY it runs
itself again under xvfb-run -a.

WebKit specifics, also written into each case's results:
- The browser runs with a private HOME and XDG_CONFIG_HOME in OUTDIR: its
  user-dirs.dirs names the download directory (real downloads, saved by
  WebKit without asking: "download_method": "download"), and a gtk.css
  removes the padding of MiniBrowser's toolbar so that its window can be
  narrower than 447 pixels (a 360 pixel viewport).
- Viewport: the window is sized so that innerWidth x innerHeight is the
  case's viewport (the toolbar's height is measured and added); the size
  reached is reported in "viewport".
- ms_to_result is measured in the page (performance.now() from the Enter
  keydown to the state change; ms_to_result_wall is the driver's clock);
  ms_to_load is the page's load time (Navigation Timing loadEventEnd).
- Full-page screenshots: WebDriver screenshots only the viewport, so the
  window is made as tall as the page (at most MAX_SHOT_HEIGHT pixels,
  said in "screenshot_notes") for the shot and sized back afterwards.
- Scripts off: a second MiniBrowser started with --enable-javascript=false
  (the WebKitSettings property enable-javascript; WebDriver's own scripts
  still run, so the page can be read).
- Requests: WebKitWebDriver has no network events, so "requests" is the
  page's address and the Performance API resource entries of the page and
  of each frame ("requests_method": "performance-api").  Resource Timing
  has no entries for data: and blob: URLs.
- a11y: axe-core (tests/browser/node_modules) audits a case with "a11y":
  true, as in drive_chromium.mjs; null when axe-core is not installed.
- Console errors: WebKitWebDriver has no log endpoint and MiniBrowser does
  not write console messages of automated pages to stdout, so a hook is put
  into the page right after it has loaded (console.error, uncaught errors
  and rejections, CSP violations of the top document): messages before the
  hook and inside frames are missed ("console_errors_method").
"""

import json
import os
import shutil
import sys
import tempfile
import time

MINIBROWSER = os.environ.get('MAILSEAL_MINIBROWSER', '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser')
WEBDRIVER = os.environ.get('MAILSEAL_WEBKITWEBDRIVER', shutil.which('WebKitWebDriver') or '/usr/bin/WebKitWebDriver')
DEFAULT_VIEWPORT = [1280, 900]
MAX_SHOT_HEIGHT = 16384
SYSTEM_PYTHON = '/usr/bin/python3'
IN_PROGRESS = ('.wkdownload', '.part', '.download')


def fail(text, status=2):
    """fail - report an error on stderr and exit with status"""
    sys.stderr.write('drive_webkit: %s\n' % text)
    sys.exit(status)


if len(sys.argv) != 3:
    fail('two arguments expected\nusage: xvfb-run -a python3 drive_webkit.py MANIFEST OUTDIR')
if not os.access(MINIBROWSER, os.X_OK) or not os.access(WEBDRIVER, os.X_OK):
    fail('WebKitGTK is not installed (%s, %s; apt-get install webkit2gtk-driver)' % (MINIBROWSER, WEBDRIVER), 77)
if not os.environ.get('DISPLAY') and not os.environ.get('WAYLAND_DISPLAY'):
    if os.environ.get('MAILSEAL_WEBKIT_REEXEC') != 'xvfb' and shutil.which('xvfb-run'):
        os.environ['MAILSEAL_WEBKIT_REEXEC'] = 'xvfb'
        os.execvp('xvfb-run', ['xvfb-run', '-a', sys.executable] + sys.argv)
    fail('no DISPLAY: run me under xvfb-run -a')
try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as e:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.access(SYSTEM_PYTHON, os.X_OK) \
            and os.environ.get('MAILSEAL_WEBKIT_REEXEC_PY') is None:
        os.environ['MAILSEAL_WEBKIT_REEXEC_PY'] = '1'
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    fail('cannot load selenium (apt-get install python3-selenium): %s' % e)

MANIFEST, OUTDIR = (os.path.abspath(p) for p in sys.argv[1:])
try:
    with open(MANIFEST, encoding='utf-8') as f:
        manifest = json.load(f)
except (OSError, ValueError) as e:
    fail('cannot read the manifest: %s' % e)
if not isinstance(manifest, dict) or not isinstance(manifest.get('cases'), list):
    fail('the manifest has no "cases" list')
os.makedirs(OUTDIR, exist_ok=True)

# The browser's private home: download directory and toolbar style.
HOME = tempfile.mkdtemp(prefix='.webkit-home-', dir=OUTDIR)
SPOOL = os.path.join(HOME, 'downloads')
os.makedirs(SPOOL)
os.makedirs(os.path.join(HOME, '.config', 'gtk-3.0'))
with open(os.path.join(HOME, '.config', 'user-dirs.dirs'), 'w', encoding='utf-8') as f:
    f.write('XDG_DOWNLOAD_DIR="%s"\n' % SPOOL)
with open(os.path.join(HOME, '.config', 'gtk-3.0', 'gtk.css'), 'w', encoding='utf-8') as f:
    f.write('* { padding: 0; margin: 0; min-width: 0; min-height: 0; border-width: 0; }\n')
os.environ['HOME'] = HOME
os.environ['XDG_CONFIG_HOME'] = os.path.join(HOME, '.config')
os.environ['XDG_CACHE_HOME'] = os.path.join(HOME, '.cache')
os.environ['XDG_DATA_HOME'] = os.path.join(HOME, '.local', 'share')

sessions = {}   # scripts (True/False) -> WebDriver


def session(scripts):
    """session - the MiniBrowser for pages with scripts on or off"""
    if scripts not in sessions:
        o = webdriver.WebKitGTKOptions()
        o.binary_location = MINIBROWSER
        o.add_argument('--automation')
        if not scripts:
            o.add_argument('--enable-javascript=false')
        sessions[scripts] = webdriver.WebKitGTK(executable_path=WEBDRIVER, options=o,
                                                service_log_path=os.path.join(HOME, 'webdriver-%s.log' % scripts))
    return sessions[scripts]


def drop_session(scripts):
    """drop_session - quit a MiniBrowser that failed, so the next case starts a new one"""
    d = sessions.pop(scripts, None)
    if d is not None:
        try:
            d.quit()
        except Exception:   # noqa: BLE001 - it is broken already
            pass


def poll(fn, timeout_s, interval=0.05):
    """poll - call fn until it returns true or timeout_s passed; its last value"""
    end = time.monotonic() + timeout_s
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def set_viewport(d, w, h):
    """set_viewport - size the window so the page's viewport is w x h; the size reached"""
    d.set_window_rect(width=w, height=h)
    for _ in range(3):
        iw, ih = d.execute_script('return [window.innerWidth, window.innerHeight]')
        if [iw, ih] == [w, h]:
            break
        r = d.get_window_rect()
        d.set_window_rect(width=r['width'] + w - iw, height=r['height'] + h - ih)
    time.sleep(0.1)
    return d.execute_script('return [window.innerWidth, window.innerHeight]')


def shoot(d, which, name, viewport, res, shots):
    """shoot - a full-page screenshot into OUTDIR/name: the window made as tall as the page"""
    w, h = viewport
    page_h = d.execute_script('return Math.max(document.documentElement.scrollHeight,'
                              ' document.body ? document.body.scrollHeight : 0)')
    want = max(h, min(page_h, MAX_SHOT_HEIGHT))
    if want != h:
        set_viewport(d, w, want)
        time.sleep(0.2)
    png = d.get_screenshot_as_png()
    if want != h:
        set_viewport(d, w, h)
    with open(os.path.join(OUTDIR, name), 'wb') as f:
        f.write(png)
    if page_h > MAX_SHOT_HEIGHT:
        res.setdefault('screenshot_notes', {})[which] = \
            'page is %d px tall; the screenshot shows the top %d px' % (page_h, MAX_SHOT_HEIGHT)
    shots.append(name)


def take_download(click, dest, timeout_s):
    """take_download - wait for the one download click() starts and move it to dest; its size and name"""
    for f in os.listdir(SPOOL):   # leftovers of an earlier failure
        os.remove(os.path.join(SPOOL, f))
    click()
    end = time.monotonic() + timeout_s
    last, stable = None, 0
    while time.monotonic() < end:
        time.sleep(0.1)
        files = os.listdir(SPOOL)
        done = [f for f in files if not f.endswith(IN_PROGRESS)]
        if len(done) == 1 and len(files) == 1:
            size = os.path.getsize(os.path.join(SPOOL, done[0]))
            stable = stable + 1 if (done[0], size) == last else 0
            last = (done[0], size)
            if stable >= 2:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.move(os.path.join(SPOOL, done[0]), dest)
                return size, done[0]
        else:
            last, stable = None, 0
    raise RuntimeError('no download finished within %d s (spool: %s)' % (timeout_s, ', '.join(os.listdir(SPOOL)) or 'empty'))


# what the page shows, read inside the page (read_page.js, shared by every
# driver; its frames are read again from inside each frame by read_frames())
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'read_page.js')) as _f:
    READ_PAGE = _f.read()

# where a place in the message is now (read_fragment.js, shared by every driver)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'read_fragment.js')) as _f:
    READ_FRAGMENT = _f.read()

READ_FRAME = r'''
var d = document;
var meta = d.querySelector('meta[http-equiv="Content-Security-Policy" i]');
return {
  csp: meta ? meta.getAttribute('content') : null,
  text: d.body ? d.body.innerText : null,
  images: Array.prototype.map.call(d.images, function (i) {
    var src = i.getAttribute('src');
    var m = src ? /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(src) : null;
    return { id: i.id || null, src_scheme: src ? (m ? m[1].toLowerCase() : '') : null,
             complete: i.complete, natural_width: i.naturalWidth };
  }),
  scripts_ran: Boolean((d.body && d.body.dataset.pwned !== undefined)
                       || d.documentElement.dataset.pwned !== undefined)
};
'''

FRAMES_SETTLED = r'''
return Array.prototype.filter.call(document.querySelectorAll('#body iframe, #parts iframe'),
                                   function (f) { return !f.hidden; })
  .every(function (f) {
    var d;
    try { d = f.contentDocument; } catch (e) { return true; }
    return d && d.readyState === 'complete' && d.URL !== 'about:blank'
      && Array.prototype.every.call(d.images, function (i) { return i.complete; });
  });
'''

HOOKS = r'''
if (!window.__msErrors) {
  window.__msErrors = [];
  var push = function (t) { window.__msErrors.push(String(t)); };
  var orig = console.error;
  console.error = function () {
    push(Array.prototype.map.call(arguments, String).join(' '));
    return orig.apply(console, arguments);
  };
  window.addEventListener('error', function (e) {
    if (e instanceof ErrorEvent) push(e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { push('unhandled rejection: ' + e.reason); });
  document.addEventListener('securitypolicyviolation', function (e) {
    push('CSP ' + e.violatedDirective + ' blocked ' + e.blockedURI);
  }, true);
}
'''

TIMING = r'''
window.__msT = { enter: null, end: null };
window.addEventListener('keydown', function (e) {
  if (e.key === 'Enter' && window.__msT.enter === null) window.__msT.enter = performance.now();
}, true);
new MutationObserver(function () {
  var s = document.body.dataset.state;
  if ((s === 'open' || s === 'error') && window.__msT.enter !== null && window.__msT.end === null)
    window.__msT.end = performance.now();
}).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
'''

AXE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'node_modules', 'axe-core', 'axe.min.js')
AXE_RUN = r'''
var done = arguments[arguments.length - 1];
window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }).then(function (r) {
  done(r.violations.map(function (v) {
    return { id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help };
  }));
}, function (e) { done({ axe_error: String(e) }); });
'''


def audit(d):
    """audit - axe-core's WCAG 2.1 A/AA violations of the page as it is now, as
    drive_chromium.mjs reports them; None without axe-core (npm, tests/browser/node_modules)"""
    try:
        with open(AXE_PATH, encoding='utf-8') as f:
            src = f.read()
    except OSError:
        return None
    if not d.execute_script("return typeof window.axe === 'object'"):
        d.execute_script(src + '\n;return typeof window.axe;')
    d.set_script_timeout(60)
    found = d.execute_async_script(AXE_RUN)
    if isinstance(found, dict):
        raise RuntimeError('axe-core: %s' % found.get('axe_error'))
    return found


RESOURCES = "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"


def frame_requests(d, out):
    """frame_requests - the Performance API resource URLs of the current frame and the frames in it"""
    try:
        out.extend(d.execute_script(RESOURCES))
    except Exception:   # noqa: BLE001 - a frame that cannot be read
        return
    for fr in d.find_elements(By.TAG_NAME, 'iframe'):
        try:
            d.switch_to.frame(fr)
        except Exception:   # noqa: BLE001
            continue
        try:
            frame_requests(d, out)
        finally:
            d.switch_to.parent_frame()


def read_frames(d):
    """read_frames - the shown iframes under #body and #parts, read from inside each frame"""
    frames = []
    for fr in d.find_elements(By.CSS_SELECTOR, '#body iframe, #parts iframe'):
        if d.execute_script('return arguments[0].hidden', fr):
            continue
        out = {'sandbox': fr.get_attribute('sandbox'), 'csp': None, 'text': None, 'images': None, 'scripts_ran': None}
        d.switch_to.frame(fr)
        try:
            out.update(d.execute_script(READ_FRAME))
        finally:
            d.switch_to.default_content()
        frames.append(out)
    return frames


def follow_fragment(d, fragment):
    """follow_fragment - click the link fragment['link'] in the first shown
    body frame; read_fragment.js for fragment['target'] 500 ms later, and
    the windows the click opened"""
    handles = set(d.window_handles)
    d.execute_script('window.scrollTo(0, 0)')
    fr = [f for f in d.find_elements(By.CSS_SELECTOR, '#body iframe, #parts iframe')
          if not d.execute_script('return arguments[0].hidden', f)][0]
    d.switch_to.frame(fr)
    try:
        d.find_element(By.ID, fragment['link']).click()
    finally:
        d.switch_to.default_content()
    time.sleep(0.5)
    out = d.execute_script(READ_FRAGMENT, fragment['target'])
    out['popups'] = len(set(d.window_handles) - handles)
    return out


def run_case(c):
    """run_case - one case of the manifest; its results"""
    scripts = c.get('scripts', True) is not False
    d = session(scripts)
    timeout_s = (c.get('timeout_ms') or 60000) / 1000.0
    w, h = c.get('viewport') or DEFAULT_VIEWPORT
    # Selenium offers WebKitGTK no script that runs before the page's own,
    # so a browser without WebCrypto cannot be imitated here.
    res = {'state': None, 'ms_to_result': None, 'no_webcrypto_applied': False}
    shots, requests = [], []
    screenshots = c.get('screenshots') or {}
    try:
        d.switch_to.default_content()
        res['viewport'] = set_viewport(d, w, h)
        d.get('file://' + os.path.abspath(c['html']))
        d.execute_script(HOOKS)
        if scripts:
            # The page's HTML already says locked; the script has run once the form shows (or it says why not).
            poll(lambda: d.execute_script("return (document.body.dataset.state === 'locked' && "
                                          "!document.getElementById('unlock').hidden) || "
                                          "!document.getElementById('error').hidden"), timeout_s)
        if screenshots.get('locked'):
            shoot(d, 'locked', screenshots['locked'], res['viewport'], res, shots)
        res['ms_to_load'] = d.execute_script("var n = performance.getEntriesByType('navigation')[0];"
                                             " return n && n.loadEventEnd > 0 ? Math.round(n.loadEventEnd) : null;")
        form_shown = scripts and d.execute_script("return !document.getElementById('unlock').hidden")
        a11y = {} if c.get('a11y') and scripts else None
        if a11y is not None:
            a11y['locked'] = audit(d)
        if scripts and c.get('passphrase') is not None and form_shown:
            if c.get('email') is not None:
                d.find_element(By.ID, 'email').send_keys(c['email'])
            field = d.find_element(By.ID, 'passphrase')
            field.send_keys(c['passphrase'])
            d.execute_script(TIMING)
            t0 = time.monotonic()
            field.send_keys(Keys.ENTER)
            reached = poll(lambda: d.execute_script('return window.__msT.end !== null'), timeout_s, 0.02)
            wall = int((time.monotonic() - t0) * 1000)
            if reached:
                t = d.execute_script('return window.__msT')
                res['ms_to_result'] = int(round(t['end'] - t['enter']))
                res['ms_to_result_wall'] = wall
            if d.execute_script("return document.body.dataset.state === 'open'"):
                poll(lambda: d.execute_script(FRAMES_SETTLED), 10)
            if screenshots.get('open'):
                shoot(d, 'open', screenshots['open'], res['viewport'], res, shots)
            if a11y is not None:
                a11y['open'] = audit(d)
        res['expanded'] = None
        if c.get('expand') and scripts:   # "Show the whole text" of every clipped text body
            res['expanded'] = 0
            while res['expanded'] < 100:
                more = d.find_elements(By.CSS_SELECTOR, 'button.show-all')
                if not more:
                    break
                more[0].click()
                res['expanded'] += 1
        seen = d.execute_script(READ_PAGE)
        names = seen.pop('attachment_names')
        res.update(seen)
        res['a11y'] = a11y if a11y is not None and a11y['locked'] is not None else None
        res['scroll_width'] = d.execute_script('return document.documentElement.scrollWidth')
        res['frames'] = read_frames(d)
        res['fragment'] = None
        if scripts and c.get('fragment') and seen['state'] == 'open':
            res['fragment'] = follow_fragment(d, c['fragment'])
        res['attachments'] = [{'name': n, 'file': None, 'size': None} for n in names]
        res['eml'] = None
        res['download_method'] = None
        if c.get('download') and seen['state'] == 'open':
            res['download_method'] = 'download'
            links = d.find_elements(By.CSS_SELECTOR, '#attachments a')
            for i, link in enumerate(links):
                rel = 'downloads/%s/%d' % (c['name'], i)
                size, saved = take_download(link.click, os.path.join(OUTDIR, rel), timeout_s)
                res['attachments'][i].update({'file': rel, 'size': size, 'saved_as': saved})
            rel = 'downloads/%s/eml' % c['name']
            size, saved = take_download(d.find_element(By.ID, 'download-eml').click, os.path.join(OUTDIR, rel),
                                        timeout_s)
            res['eml'] = {'file': rel, 'size': size, 'saved_as': saved}
        if not scripts:
            res['scripts_disabled_method'] = ('MiniBrowser --enable-javascript=false (WebKitSettings enable-javascript),'
                                              ' a separate browser instance')
        d.switch_to.default_content()
        requests.append(d.execute_script('return location.href'))
        frame_requests(d, requests)
        res['console_errors'] = d.execute_script('return window.__msErrors || []')
    except Exception:
        drop_session(scripts)
        raise
    finally:
        seen_urls = set()
        res['requests'] = [u for u in requests if not (u in seen_urls or seen_urls.add(u))]
        res['request_failures'] = None   # not observable here
        res['requests_method'] = ('performance-api: the page address and the Performance API resource entries'
                                  ' of the page and each frame (WebKitWebDriver has no network events; Resource'
                                  ' Timing lists no data: or blob: URLs)')
        res['console_errors_method'] = ('page hook after load: console.error, uncaught errors and rejections,'
                                        ' CSP violations of the top document (earlier messages and frames missed)')
        res['screenshots'] = shots
    return res


def main():
    """main - run every case, write results.json"""
    results = {'engine': 'webkit', 'version': None, 'cases': {}}
    status = 0
    try:
        d = session(True)
        results['version'] = d.capabilities.get('browserVersion')
        results['browser'] = 'WebKitGTK MiniBrowser ' + str(results['version'])
        for c in manifest['cases']:
            t0 = time.monotonic()
            try:
                results['cases'][c['name']] = run_case(c)
            except Exception as e:   # noqa: BLE001 - reported per case
                results['cases'][c['name']] = {'driver_error': '%s: %s' % (type(e).__name__, e)}
            sys.stderr.write('drive_webkit: %s: %s in %d ms\n' % (
                c['name'], results['cases'][c['name']].get('state', 'driver_error'),
                (time.monotonic() - t0) * 1000))
    except Exception as e:   # noqa: BLE001 - an internal error
        sys.stderr.write('drive_webkit: %s: %s\n' % (type(e).__name__, e))
        status = 2
    finally:
        for s in list(sessions):
            drop_session(s)
        shutil.rmtree(HOME, ignore_errors=True)
    with open(os.path.join(OUTDIR, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
        f.write('\n')
    return status


if __name__ == '__main__':
    sys.exit(main())
