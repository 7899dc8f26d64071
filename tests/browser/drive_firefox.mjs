// drive_firefox.mjs - the Firefox driver of the browser suite (see DRIVERS.md):
// opens each envelope page of a manifest in headless Firefox (Debian's
// firefox-esr, driven by puppeteer-core over WebDriver BiDi), operates it like
// a person and writes what it saw to OUTDIR/results.json.  It asserts nothing.
//
//   node drive_firefox.mjs MANIFEST OUTDIR
//
// Exit status: 0 when every case could be run (whatever it saw), 77 when
// Firefox is not installed, 2 on a usage or internal error.
//
// Firefox specifics, also written into each case's results:
// - downloads are real downloads: the profile saves every download into one
//   directory without asking (prefs below); each file is moved to
//   downloads/CASE/N as soon as it is complete ("download_method": "download").
// - scripts off: a second Firefox with the pref javascript.enabled=false
//   ("scripts_disabled_method").
// - requests: puppeteer's request events (BiDi network.beforeRequestSent) of
//   the page and its frames (they include data: URLs but not the file: page
//   or blob: links), plus the page's address and the Performance API
//   resource entries of the page and its frames, plus the URLs Firefox's
//   console says the Content-Security-Policy refused before any request
//   (in request_failures as "csp: ..."); "requests_method" says so.
// - ms_to_result is measured in the page (performance.now() from the Enter
//   keydown to the state change); ms_to_result_wall is the driver's clock;
//   ms_to_load is the page's load time (Navigation Timing loadEventEnd).
// - screenshots: Firefox refuses full-page shots taller than 65535 px; then
//   the top MAX_SHOT_HEIGHT px are shot and "screenshot_notes" says so.
// - "saved_as" is the file name Firefox chose for a download.
// - a11y: axe-core (tests/browser/node_modules) audits a case with "a11y":
//   true, as in drive_chromium.mjs; null when axe-core is not installed.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import url from 'node:url';

const require = createRequire(import.meta.url);

const FIREFOX = process.env.MAILSEAL_FIREFOX || '/usr/bin/firefox-esr';
const DEFAULT_VIEWPORT = [1280, 900];

/* usage - the command line is wrong */
function usage(text) {
  process.stderr.write(`drive_firefox: ${text}\nusage: node drive_firefox.mjs MANIFEST OUTDIR\n`);
  process.exit(2);
}

/* sleep - wait ms milliseconds */
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/* withTimeout - a promise that rejects after ms with text */
function withTimeout(promise, ms, text) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(text)), ms); }),
  ]);
}

if (process.argv.length !== 4)
  usage('two arguments expected');
const [manifestPath, outDir] = process.argv.slice(2).map((p) => path.resolve(p));
if (!fs.existsSync(FIREFOX)) {
  process.stderr.write(`drive_firefox: ${FIREFOX} is not installed (apt-get install firefox-esr)\n`);
  process.exit(77);
}
let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch (e) {
  process.stderr.write(`drive_firefox: cannot load puppeteer-core (run tests/browser/install.sh): ${e.message}\n`);
  process.exit(2);
}
let manifest;
try {
  manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
} catch (e) {
  usage(`cannot read the manifest: ${e.message}`);
}
if (!manifest || !Array.isArray(manifest.cases))
  usage('the manifest has no "cases" list');
fs.mkdirSync(outDir, { recursive: true });

const spoolDir = fs.mkdtempSync(path.join(outDir, '.firefox-downloads-'));

/* prefs - the Firefox preferences of one browser instance */
function prefs(scripts) {
  return {
    'javascript.enabled': scripts,
    // Downloads: straight into spoolDir, never a dialog, never a viewer.
    'browser.download.folderList': 2,
    'browser.download.dir': spoolDir,
    'browser.download.useDownloadDir': true,
    'browser.download.always_ask_before_handling_new_types': false,
    'browser.download.start_downloads_in_tmp_dir': false,
    'browser.download.manager.showWhenStarting': false,
    'browser.download.alwaysOpenPanel': false,
    'browser.download.open_pdf_attachments_inline': false,
    'browser.download.enable_spam_prevention': false,
    'browser.download.sanitize_non_media_extensions': false,
    'browser.helperApps.neverAsk.saveToDisk':
      'application/pdf,application/octet-stream,message/rfc822,text/plain,text/html,image/png,image/jpeg,image/gif,application/zip',
    'pdfjs.disabled': true,
    // Scrollbars over the content, as on phones (and in WebKitGTK): a 360 px
    // viewport lays the page out 360 px wide, not 348.
    'ui.useOverlayScrollbars': 1,
    // No network: this machine has none, and nothing should be tried.
    'network.dns.disableIPv6': true,
    'browser.safebrowsing.downloads.remote.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
  };
}

const browsers = new Map();   // scripts (true/false) -> Browser

/* browserFor - the Firefox instance for pages with scripts on or off */
async function browserFor(scripts) {
  if (!browsers.has(scripts)) {
    browsers.set(scripts, await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      protocol: 'webDriverBiDi',
      extraPrefsFirefox: prefs(scripts),
      timeout: 60000,
    }));
  }
  return browsers.get(scripts);
}

// A Firefox console message about a URL the Content-Security-Policy refused.
const CSP_BLOCK = /^Content-Security-Policy: .*?\(([a-z-]+)\) at (\S+) because/;

/* spoolFiles - the complete files in the download directory */
function spoolFiles() {
  return fs.readdirSync(spoolDir);
}

/* takeDownload - wait for the one download started by click() to finish and
 * move it to dest; returns its size, or throws after ms */
async function takeDownload(click, dest, ms) {
  for (const f of spoolFiles())   // leftovers of an earlier failure
    fs.rmSync(path.join(spoolDir, f), { force: true });
  await click();
  const t0 = Date.now();
  let stable = 0, last = '';
  while (Date.now() - t0 < ms) {
    await sleep(100);
    const files = spoolFiles();
    const done = files.filter((f) => !f.endsWith('.part'));
    if (done.length === 1 && files.length === 1) {
      const size = fs.statSync(path.join(spoolDir, done[0])).size;
      const key = done[0] + ':' + size;
      stable = key === last ? stable + 1 : 0;
      last = key;
      if (stable >= 2) {
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.renameSync(path.join(spoolDir, done[0]), dest);
        return { size, saved_as: done[0] };
      }
    } else {
      stable = 0;
      last = '';
    }
  }
  throw new Error(`no download finished within ${ms} ms (spool: ${spoolFiles().join(', ') || 'empty'})`);
}

/* READ_PAGE - the fields of DRIVERS.md that the page shows, read inside the
 * page (read_page.js, shared by every driver) */
const READ_PAGE = `(function () {\n${fs.readFileSync(new URL('./read_page.js', import.meta.url), 'utf8')}\n})()`;

/* READ_FRAGMENT - where a place in the message is now (read_fragment.js), for an id */
const READ_FRAGMENT = (id) => `(function () {\n${fs.readFileSync(new URL('./read_fragment.js', import.meta.url), 'utf8')}\n}).apply(null, [${JSON.stringify(id)}])`;

/* axeSource - axe-core's script from node_modules, null when it is not installed */
function axeSource() {
  try {
    return fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  } catch (e) {
    return null;
  }
}

/* audit - axe-core's WCAG 2.1 A/AA rules over the page as it is now: the
 * violations (id, impact, number of elements, help), as drive_chromium.mjs
 * reports them; null without axe-core.  axe is evaluated over BiDi, which the
 * page's Content-Security-Policy does not govern. */
async function audit(page) {
  const src = axeSource();
  if (src === null)
    return null;
  if (!(await page.evaluate(() => typeof window.axe === 'object')))
    await page.evaluate(src);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
}

/* performanceUrls - the page's address and the resource URLs in the
 * Performance API of the page and its frames, at any depth (runs in the
 * page; Firefox names the navigation entry "document", so the address is
 * read from location; srcdoc frames load nothing) */
function performanceUrls() {
  const out = [window.location.href];
  (function walk(win) {
    try {
      win.performance.getEntriesByType('resource').forEach((e) => out.push(e.name));
    } catch (e) { /* a frame of another origin: nothing to read */ }
    for (let i = 0; i < win.frames.length; i++)
      walk(win.frames[i]);
  })(window);
  return out;
}

/* framesSettled - true when every shown frame and its images have loaded (runs in the page) */
function framesSettled() {
  return Array.from(document.querySelectorAll('#body iframe, #parts iframe')).filter((f) => !f.hidden)
    .every((f) => {
      let d = null;
      try { d = f.contentDocument; } catch (e) { return true; }
      return d && d.readyState === 'complete' && d.URL !== 'about:blank'
        && Array.from(d.images).every((i) => i.complete);
    });
}

/* shoot - a full-page screenshot; Firefox refuses pages taller than 65535
 * pixels: then the first MAX_SHOT_HEIGHT pixels, said in screenshot_notes */
const MAX_SHOT_HEIGHT = 16384;
async function shoot(page, which, name, shots, res) {
  const file = path.join(outDir, name);
  try {
    await page.screenshot({ path: file, fullPage: true });
  } catch (e) {
    const dims = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
    await page.screenshot({ path: file, captureBeyondViewport: true,
                            clip: { x: 0, y: 0, width: dims[0], height: Math.min(dims[1], MAX_SHOT_HEIGHT) } });
    res.screenshot_notes = res.screenshot_notes || {};
    res.screenshot_notes[which] = `page is ${dims[1]} px tall; the screenshot shows the top ${MAX_SHOT_HEIGHT} px`
      + ` (full page refused: ${String(e.message).split('\n')[0].slice(0, 200)})`;
  }
  shots.push(name);
}

/* runCase - one case of the manifest; its results */
async function runCase(c) {
  const scripts = c.scripts !== false;
  const browser = await browserFor(scripts);
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const res = { state: null, ms_to_result: null, no_webcrypto_applied: Boolean(c.no_webcrypto) };
  if (c.no_webcrypto)         // a browser without WebCrypto: no crypto.subtle before any page script
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(Crypto.prototype, 'subtle', { get() { return undefined; }, configurable: true });
    });
  const requests = [], consoleErrors = [], shots = [], failures = {};
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => { failures[r.url()] = r.failure() ? r.failure().errorText : 'failed'; });
  page.on('console', (m) => {
    if (m.type() === 'error')
      consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e && e.message ? e.message : e)));
  const timeout = c.timeout_ms || 60000;
  const [w, h] = c.viewport || DEFAULT_VIEWPORT;
  try {
    await page.setViewport({ width: w, height: h });
    res.viewport = await page.evaluate(() => [window.innerWidth, window.innerHeight]);
    await page.goto(url.pathToFileURL(c.html).href, { waitUntil: 'load', timeout });
    if (scripts) {
      // The page's HTML already says locked; the script has run once the form shows (or it says why not).
      await page.waitForFunction(() => (document.body.dataset.state === 'locked'
        && !document.getElementById('unlock').hidden) || !document.getElementById('error').hidden,
        { timeout, polling: 50 }).catch(() => {});
    }
    if (c.screenshots && c.screenshots.locked)
      await shoot(page, 'locked', c.screenshots.locked, shots, res);
    res.ms_to_load = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return n && n.loadEventEnd > 0 ? Math.round(n.loadEventEnd) : null;
    });
    const formShown = scripts && await page.evaluate(() => !document.getElementById('unlock').hidden);
    const a11y = c.a11y && scripts ? {} : null;
    if (a11y)
      a11y.locked = await audit(page);
    if (scripts && c.passphrase !== null && c.passphrase !== undefined && formShown) {
      if (c.email !== null && c.email !== undefined) {
        await page.focus('#email');
        await page.keyboard.type(c.email);
      }
      await page.focus('#passphrase');
      await page.keyboard.type(c.passphrase);
      // Time it in the page: from the Enter keydown to the state change.
      await page.evaluate(() => {
        window.__msT = { enter: null, end: null };
        window.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' && window.__msT.enter === null) window.__msT.enter = performance.now();
        }, true);
        new MutationObserver(() => {
          const s = document.body.dataset.state;
          if ((s === 'open' || s === 'error') && window.__msT.enter !== null && window.__msT.end === null)
            window.__msT.end = performance.now();
        }).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
      });
      const t0 = Date.now();
      await page.keyboard.press('Enter');
      let reached = true;
      await page.waitForFunction(() => window.__msT.end !== null, { timeout, polling: 20 })
        .catch(() => { reached = false; });
      const wall = Date.now() - t0;
      if (reached) {
        const t = await page.evaluate(() => window.__msT);
        res.ms_to_result = Math.round(t.end - t.enter);
        res.ms_to_result_wall = wall;
      }
      if (await page.evaluate(() => document.body.dataset.state === 'open'))
        await page.waitForFunction(framesSettled, { timeout: 10000, polling: 50 }).catch(() => {});
      if (c.screenshots && c.screenshots.open)
        await shoot(page, 'open', c.screenshots.open, shots, res);
      if (a11y)
        a11y.open = await audit(page);
    }
    res.expanded = null;
    if (c.expand && scripts) {      // "Show the whole text" of every clipped text body
      for (res.expanded = 0; res.expanded < 100; res.expanded++) {
        const more = await page.$('button.show-all');
        if (more === null)
          break;
        await more.click();
      }
    }
    const seen = await page.evaluate(READ_PAGE);
    Object.assign(res, seen);
    delete res.attachment_names;
    res.a11y = a11y && a11y.locked !== null ? a11y : null;
    res.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    res.fragment = null;
    if (scripts && c.fragment && seen.state === 'open') {   // follow a link inside the message
      let popups = 0;
      const count = (t) => { if (t.type() === 'page') popups++; };
      context.on('targetcreated', count);
      await page.evaluate(() => window.scrollTo(0, 0));
      const fh = await page.$('#body iframe:not([hidden]), #parts iframe:not([hidden])');
      const link = await (await fh.contentFrame()).$(`#${c.fragment.link}`);
      await link.click();
      await new Promise((r) => setTimeout(r, 500));
      context.off('targetcreated', count);
      res.fragment = { ...(await page.evaluate(READ_FRAGMENT(c.fragment.target))), popups };
    }
    res.attachments = seen.attachment_names.map((name) => ({ name, file: null, size: null }));
    res.eml = null;
    res.download_method = null;
    if (c.download && seen.state === 'open') {
      res.download_method = 'download';
      const links = await page.$$('#attachments a');
      for (let i = 0; i < links.length; i++) {
        const rel = `downloads/${c.name}/${i}`;
        const got = await takeDownload(() => links[i].click(), path.join(outDir, rel), timeout);
        Object.assign(res.attachments[i], { file: rel, size: got.size, saved_as: got.saved_as });
      }
      const rel = `downloads/${c.name}/eml`;
      const got = await takeDownload(() => page.click('#download-eml'), path.join(outDir, rel), timeout);
      res.eml = { file: rel, size: got.size, saved_as: got.saved_as };
    }
    if (!scripts) {
      res.scripts_disabled_method = 'Firefox pref javascript.enabled=false (separate browser instance)';
      res.ms_to_result = null;
    }
  } finally {
    const perf = await page.evaluate(performanceUrls).catch(() => []);
    // Firefox refuses a URL the Content-Security-Policy forbids before any
    // request (no BiDi event): its console says so, with the URL.
    const refused = [];
    for (const m of consoleErrors) {
      const csp = CSP_BLOCK.exec(m);
      if (csp) {
        refused.push(csp[2]);
        failures[csp[2]] = failures[csp[2]] || `csp: refused by the Content-Security-Policy (${csp[1]})`;
      }
    }
    res.requests = Array.from(new Set(requests.concat(perf, refused)));
    res.request_failures = { ...failures };
    res.requests_method = 'bidi-network-events+performance-api: puppeteer request events (BiDi'
      + ' network.beforeRequestSent, page and frames; Firefox sends none for file: and blob: URLs) and'
      + ' the page\'s address and the Performance API resource entries of the page and each frame, and the'
      + ' URLs that Firefox\'s console says the Content-Security-Policy refused (also in request_failures)';
    res.console_errors = consoleErrors;
    res.console_errors_method = 'bidi log events: puppeteer console messages of type error (page and'
      + ' frames, CSP refusals included) and uncaught page errors';
    res.screenshots = shots;
    await page.close().catch(() => {});
    await context.close().catch(() => {});
  }
  return res;
}

const results = { engine: 'firefox', version: null, cases: {} };
let status = 0;
try {
  const b = await browserFor(true);
  results.version = (await b.version()).replace(/^firefox\//i, '');
  for (const c of manifest.cases) {
    const t0 = Date.now();
    try {
      results.cases[c.name] = await withTimeout(runCase(c), (c.timeout_ms || 60000) * 3 + 30000,
        'the case did not finish in time');
    } catch (e) {
      results.cases[c.name] = { driver_error: String(e && e.stack ? e.stack : e) };
    }
    process.stderr.write(`drive_firefox: ${c.name}: ${results.cases[c.name].state ?? 'driver_error'} in ${Date.now() - t0} ms\n`);
  }
} catch (e) {
  process.stderr.write(`drive_firefox: ${e && e.stack ? e.stack : e}\n`);
  status = 2;
} finally {
  for (const b of browsers.values())
    await b.close().catch(() => {});
  fs.rmSync(spoolDir, { recursive: true, force: true });
}
fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
process.exit(status);
