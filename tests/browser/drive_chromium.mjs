// drive_chromium.mjs - the Chromium driver of the browser suite: opens each
// envelope page of a manifest in Debian's Chromium (playwright-core), unlocks
// it with real key events, downloads what it offers and reports what it saw
// in OUTDIR/results.json.  It asserts nothing; test_browsers.py does.
// Protocol: DRIVERS.md.  Usage: node drive_chromium.mjs MANIFEST OUTDIR
// Exit 0 when every case could be run (whatever it saw), 77 when
// /usr/bin/chromium is missing, 1 on an internal error.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

const CHROMIUM = process.env.MAILSEAL_CHROMIUM || '/usr/bin/chromium';
// Debian's Chromium as root needs --no-sandbox; the rest stop it from
// reaching for the network, which is closed here (NOTES-browser.md).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'];

// READ_PAGE - what the page shows, read inside the page (read_page.js, shared by every driver)
const READ_PAGE = `(function () {\n${fs.readFileSync(new URL('./read_page.js', import.meta.url), 'utf8')}\n})()`;
// READ_FRAGMENT - where a place in the message is now (read_fragment.js), for an id
const READ_FRAGMENT = (id) => `(function () {\n${fs.readFileSync(new URL('./read_fragment.js', import.meta.url), 'utf8')}\n}).apply(null, [${JSON.stringify(id)}])`;

// framesSettled - every shown frame has loaded, with its images
function framesSettled() {
  return Array.from(document.querySelectorAll('#body iframe, #parts iframe'))
    .filter((f) => !f.hidden)
    .every((f) => {
      const d = f.contentDocument;
      return d && d.readyState === 'complete' && d.body && Array.from(d.images).every((i) => i.complete);
    });
}

// download - click a link or button, save what the browser downloads to file
async function download(page, locator, file) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), locator.click()]);
  const failure = await dl.failure();
  if (failure)
    throw new Error(`download failed: ${failure}`);
  await dl.saveAs(file);
  return fs.statSync(file).size;
}

// audit - axe-core's WCAG 2.1 A/AA rules over the page as it is now: the
// violations, each with its id, impact and number of elements.  axe is
// injected as a script, which the page's policy allows only because an a11y
// case runs with bypassCSP.
async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object')))
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
                                      help: v.help }));
  });
}

// runCase - one manifest case in a fresh context; the case's results
async function runCase(browser, c, outdir) {
  const [width, height] = c.viewport || [1280, 900];
  const scripts = c.scripts !== false;
  const context = await browser.newContext({
    acceptDownloads: true, viewport: { width, height }, javaScriptEnabled: scripts,
    bypassCSP: Boolean(c.a11y),
  });
  const a11y = c.a11y ? {} : null;
  if (c.no_webcrypto)         // a browser without WebCrypto: no crypto.subtle before any page script
    await context.addInitScript(() => {
      Object.defineProperty(Crypto.prototype, 'subtle', { get() { return undefined; }, configurable: true });
    });
  const requests = [], consoleErrors = [], shots = [], failures = {};
  context.on('request', (r) => requests.push(r.url()));      // page and every frame
  context.on('requestfailed', (r) => { failures[r.url()] = r.failure() ? r.failure().errorText : 'failed'; });
  try {
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    const shot = async (key) => {
      const name = c.screenshots && c.screenshots[key];
      if (!name)
        return;
      await page.screenshot({ path: path.join(outdir, name), fullPage: true });
      shots.push(name);
    };
    await page.goto(pathToFileURL(c.html).href, { waitUntil: 'load', timeout: 120000 });
    let ms = null;
    if (scripts) {
      // the page's HTML already says locked: wait until its script showed the form, or why not
      await page.waitForFunction(() => (document.body.dataset.state === 'locked'
        && !document.getElementById('unlock').hidden) || !document.getElementById('error').hidden,
                                 null, { timeout: 60000 });
      await shot('locked');
      if (a11y)
        a11y.locked = await audit(page);
      if (c.passphrase !== null && c.passphrase !== undefined) {
        if (c.email !== null && c.email !== undefined)
          await page.locator('#email').pressSequentially(c.email);
        const pass = page.locator('#passphrase');
        await pass.pressSequentially(c.passphrase);
        const t0 = performance.now();
        await pass.press('Enter');
        await page.waitForFunction(() => ['open', 'error'].includes(document.body.dataset.state), null,
                                   { timeout: c.timeout_ms || 60000, polling: 10 });
        ms = Math.round(performance.now() - t0);
        await page.waitForFunction(framesSettled, null, { timeout: 30000 });
        await shot('open');
        if (a11y)
          a11y.open = await audit(page);
      }
    } else {
      await shot('locked');
    }
    let expanded = null;
    if (c.expand && scripts) {      // "Show the whole text" of every clipped text body
      const more = page.locator('button.show-all');
      for (expanded = 0; await more.count() > 0; expanded++)
        await more.first().click();
    }
    const res = await page.evaluate(READ_PAGE);
    res.expanded = expanded;
    res.ms_to_result = ms;
    res.a11y = a11y;
    res.no_webcrypto_applied = Boolean(c.no_webcrypto);
    res.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    res.ms_to_load = await page.evaluate(() => {       // Navigation Timing: the page's load
      const n = performance.getEntriesByType('navigation')[0];
      return n && n.loadEventEnd > 0 ? Math.round(n.loadEventEnd) : null;
    });
    res.fragment = null;
    if (scripts && c.fragment && res.state === 'open') {   // follow a link inside the message
      let popups = 0;
      const count = () => { popups++; };
      context.on('page', count);
      await page.evaluate(() => window.scrollTo(0, 0));
      const frame = page.frameLocator('#body iframe:not([hidden]), #parts iframe:not([hidden])').first();
      await frame.locator(`#${c.fragment.link}`).click();
      await page.waitForTimeout(500);
      context.off('page', count);
      res.fragment = { ...(await page.evaluate(READ_FRAGMENT(c.fragment.target))), popups };
    }
    res.attachments = [];
    res.eml = null;
    res.download_method = null;
    if (scripts && c.download && res.state === 'open') {
      const dir = path.join(outdir, 'downloads', c.name);
      fs.mkdirSync(dir, { recursive: true });
      const links = page.locator('#attachments a');
      const n = await links.count();
      for (let i = 0; i < n; i++) {
        const link = links.nth(i);
        const name = await link.getAttribute('data-name');
        const rel = path.join('downloads', c.name, String(i));
        const size = await download(page, link, path.join(outdir, rel));
        res.attachments.push({ name, file: rel, size });
      }
      const rel = path.join('downloads', c.name, 'eml');
      res.eml = { file: rel, size: await download(page, page.locator('#download-eml'), path.join(outdir, rel)) };
      res.download_method = 'download';
    } else {
      res.attachments = res.attachment_names.map((name) => ({ name, file: null, size: null }));
    }
    delete res.attachment_names;
    res.requests = requests.slice();
    res.request_failures = { ...failures };
    res.console_errors = consoleErrors;
    res.screenshots = shots;
    return res;
  } finally {
    await context.close();
  }
}

// main - run the manifest, write results.json
async function main() {
  const [manifestPath, outdir] = process.argv.slice(2);
  if (!manifestPath || !outdir) {
    console.error('usage: node drive_chromium.mjs MANIFEST OUTDIR');
    return 2;
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`drive_chromium: ${CHROMIUM} is not installed`);
    return 77;
  }
  const { chromium } = await import('playwright-core');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  fs.mkdirSync(outdir, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  const results = { engine: 'chromium', version: browser.version(), cases: {} };
  try {
    for (const c of manifest.cases) {
      const t0 = performance.now();
      try {
        results.cases[c.name] = await runCase(browser, c, outdir);
      } catch (e) {
        results.cases[c.name] = { driver_error: String(e && e.stack ? e.stack : e) };
      }
      console.error(`drive_chromium: ${c.name} done in ${Math.round(performance.now() - t0)} ms`);
    }
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(outdir, 'results.json'), JSON.stringify(results, null, 1));
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`drive_chromium: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
