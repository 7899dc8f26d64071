// drive_chromium_hostile.mjs - the driver of test_viewer_hostile.py: opens
// each hostile envelope page of a manifest in Debian's Chromium
// (playwright-core), sets a sentinel in the top page, unlocks it with real
// key events, then hovers, focuses and clicks every element of the shown
// message (each body frame and its open shadow roots, and the top page's
// header fields), submits any form left, presses Enter in every field,
// downloads every attachment and the .eml, and reports what it saw in
// OUTDIR/results.json.  It asserts nothing; test_viewer_hostile.py does.
//
// Every request of every page and frame is recorded (context 'request'),
// and context.route('**') aborts and records every URL outside file:,
// data: and blob:, so nothing reaches the network even if the viewer asks.
//
// Manifest: {"sentinel": "intact",
//            "cases": [{"name", "html", "passphrase", "trap"}]}  (trap: informational)
// Usage: node drive_chromium_hostile.mjs MANIFEST OUTDIR
// Exit 0 when every case could be run (whatever it saw), 77 when
// /usr/bin/chromium is missing, 1 on an internal error.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = process.env.MAILSEAL_CHROMIUM || '/usr/bin/chromium';
// as drive_chromium.mjs: no sandbox as root, no background networking
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'];
const LOCAL = /^(file|data|blob):/i;
// what is hovered, focused and clicked in a body frame (Playwright's css
// engine also looks inside open shadow roots)
const TARGETS = 'a, area, img, button, input, select, textarea, label, summary, details, video, audio, '
  + 'picture, object, embed, iframe, marquee, svg, svg *, math *, form, table, td, li, p, div, span, '
  + '[onclick], [onmouseover], [onmouseenter], [onfocus], [tabindex], [href], [src], [style], body';
// the elements the viewer itself makes inside #message (viewer.js)
const VIEWER_TAGS = ['H1', 'H2', 'DL', 'DIV', 'DT', 'DD', 'PRE', 'IFRAME', 'SECTION', 'UL', 'LI', 'A',
                     'SPAN', 'P', 'BUTTON'];

// sleep - wait ms milliseconds
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// capped - a promise that gives up after ms (rejects): an evaluate in a frame
// that never finishes loading (a javascript: or error frame) would wait forever
function capped(promise, ms = 2000) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

// topSnapshot - the top page's title, sentinel, posted messages and marks
function topSnapshot() {
  const s = (v) => (typeof v === 'string' ? v : v === undefined || v === null ? null : String(v));
  return {
    title: document.title,
    h1_title: document.getElementById('title') ? document.getElementById('title').textContent : null,
    sentinel: s(window.mailsealSentinel),
    messages: (window.__hostileMessages || []).slice(),
    top_pwned: s(window.pwned) || s(document.documentElement.dataset.pwned)
      || s(document.body.dataset.pwned) || null,
  };
}

// frameSnapshot - a frame's URL, title and marks (run inside the frame)
function frameSnapshot() {
  const p = typeof window.pwned === 'string' ? window.pwned : null;
  return {
    url: location.href, title: document.title,
    pwned: p || (document.documentElement && document.documentElement.dataset.pwned) || null,
  };
}

// snapshot - the top page and every frame of every page, now
async function snapshot(context, page) {
  const st = await page.evaluate(topSnapshot);
  st.frames = [];
  for (const p of context.pages())
    for (const f of p.frames()) {
      if (f === page.mainFrame())
        continue;
      try {
        st.frames.push({ page: p === page ? 'viewer' : 'popup', ...(await capped(f.evaluate(frameSnapshot))) });
      } catch (e) {
        st.frames.push({ page: p === page ? 'viewer' : 'popup', url: f.url(), title: null, pwned: null,
                         error: String(e.message || e).split('\n')[0] });
      }
    }
  return st;
}

// poke - hover, focus and click one element (a real mouse click where it
// has a box, else a dispatched click event); true when it was clicked
async function poke(handle) {
  let clicked = false;
  try {
    const box = await capped(handle.boundingBox());
    if (box && box.width > 0 && box.height > 0) {
      await handle.hover({ force: true, timeout: 400 }).catch(() => {});
      await handle.click({ force: true, timeout: 400 });
      clicked = true;
    }
  } catch (e) { /* not clickable with the mouse: dispatch below */ }
  try {
    await capped(handle.focus()).catch(() => {});
    if (!clicked) {
      await capped(handle.dispatchEvent('mouseover'));
      await capped(handle.dispatchEvent('click'));
      clicked = true;
    }
  } catch (e) { /* detached or gone */ }
  return clicked;
}

// interactFrame - every target in a frame and its child frames; the number clicked
async function interactFrame(frame) {
  let n = 0;
  let handles = [];
  try {
    handles = await capped(frame.$$(TARGETS), 5000);
  } catch (e) {
    return 0;
  }
  for (const h of handles)
    if (await poke(h))
      n++;
  for (const h of handles) {       // Enter in fields, submit what is a form
    try {
      const tag = await capped(h.evaluate((e) => e.localName));
      if (tag === 'input' || tag === 'textarea' || tag === 'select')
        await h.press('Enter', { timeout: 400 });
      else if (tag === 'form')
        await capped(h.evaluate((f) => (f.requestSubmit ? f.requestSubmit() : f.submit())));
    } catch (e) { /* refused or gone */ }
  }
  for (const h of handles)
    await h.dispose().catch(() => {});
  for (const child of frame.childFrames())
    n += await interactFrame(child);
  return n;
}

// bodyFrames - the shown iframes under #body and #parts: element handle, frame, facts
async function bodyFrames(page) {
  const out = [];
  const handles = await page.$$('#body iframe, #parts iframe');
  for (const h of handles) {
    if (await capped(h.evaluate((e) => e.hidden)))
      continue;
    const frame = await capped(h.contentFrame());
    const info = { index: out.length, sandbox: await h.getAttribute('sandbox'), text: null, images: [],
                   clicked: 0 };
    if (frame)
      try {
        Object.assign(info, await capped(frame.evaluate(() => ({
          text: document.body ? document.body.innerText : null,
          svg_animations: Array.from(document.getElementsByTagName('*'), (e) => e.localName)
            .filter((n) => ['set', 'animate', 'animateMotion', 'animateTransform', 'discard'].includes(n)),
          images: Array.from(document.images).map((i) => {
            const m = /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(i.getAttribute('src') || '');
            return { id: i.id || null, scheme: m ? m[1].toLowerCase() : null, complete: i.complete,
                     natural_width: i.naturalWidth };
          }),
        }))));
      } catch (e) {
        info.error = String(e.message || e).split('\n')[0];
      }
    out.push({ handle: h, frame, info });
  }
  return out;
}

// runCase - one case in a fresh context; its results
async function runCase(browser, c, manifest, outdir) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const requests = [], failures = {}, aborted = [], websockets = [], dialogs = [], popups = [],
        consoleLines = [], downloads = [], saving = [], entries = new Map(), retried = [];
  let source = 'other', page = null;
  await context.route('**', (route) => {
    const r = route.request();
    if (LOCAL.test(r.url()))
      return route.continue();
    aborted.push({ url: r.url(), type: r.resourceType(), navigation: r.isNavigationRequest() });
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => {
    let frame = null;
    try { frame = r.frame().url(); } catch (e) { /* a service worker's */ }
    requests.push({ url: r.url(), type: r.resourceType(), navigation: r.isNavigationRequest(), frame });
  });
  context.on('requestfailed', (r) => { failures[r.url()] = r.failure() ? r.failure().errorText : 'failed'; });
  const watch = (p) => {
    p.on('dialog', (d) => { dialogs.push({ type: d.type(), message: d.message() }); d.dismiss().catch(() => {}); });
    p.on('websocket', (ws) => websockets.push(ws.url()));
    p.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`.slice(0, 300)));
    p.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`.slice(0, 300)));
    p.on('download', (d) => {
      const entry = { source, suggested: d.suggestedFilename(), url: d.url().slice(0, 60), failure: null };
      downloads.push(entry);
      entries.set(d, entry);
      const file = path.join(outdir, 'downloads', c.name, String(downloads.length - 1));
      saving.push(d.failure().then((f) => {
        entry.failure = f;
        return f ? null : d.saveAs(file);
      }).catch((e) => { entry.failure = String(e.message || e); }));
    });
  };
  context.on('page', (p) => {
    if (page !== null && p !== page) {
      popups.push({ page: p, url: p.url() });
      watch(p);
    }
  });
  try {
    page = await context.newPage();
    watch(page);
    const stages = {};
    await page.goto(pathToFileURL(c.html).href, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => (document.body.dataset.state === 'locked'
      && !document.getElementById('unlock').hidden) || !document.getElementById('error').hidden,
                               null, { timeout: 30000 });
    await page.evaluate((sentinel) => {
      window.mailsealSentinel = sentinel;
      window.__hostileMessages = [];
      window.addEventListener('message', (e) => {
        let d;
        try { d = typeof e.data === 'string' ? e.data : JSON.stringify(e.data); } catch (x) { d = '?'; }
        window.__hostileMessages.push(String(d).slice(0, 200));
      });
    }, manifest.sentinel);
    stages.loaded = await snapshot(context, page);
    const pass = page.locator('#passphrase');
    await pass.pressSequentially(c.passphrase);
    await pass.press('Enter');
    await page.waitForFunction(() => ['open', 'error'].includes(document.body.dataset.state), null,
                               { timeout: 60000, polling: 20 });
    // every shown frame loaded (its images settled), then a moment for timers and refreshes
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#body iframe, #parts iframe'))
      .filter((f) => !f.hidden).every((f) => {
        const d = f.contentDocument;
        return d && d.readyState === 'complete';
      }), null, { timeout: 15000 }).catch(() => {});
    await sleep(1200);
    const state = await page.evaluate(() => document.body.dataset.state);
    stages.opened = await snapshot(context, page);
    await page.screenshot({ path: path.join(outdir, `${c.name}-open.png`), fullPage: true });

    // the body frames: read, then hover, focus and click everything in them
    const frames = await bodyFrames(page);
    for (const f of frames)
      if (f.frame)
        f.info.clicked = await interactFrame(f.frame);

    // the top page: the header fields, then every attachment and the .eml
    let topClicked = 0;
    for (const sel of ['#subject', '#from', '#to', '#date', '#parts h2', '#parts dd', '#attachments-section span'])
      for (const h of await page.$$(sel))
        if (await poke(h))
          topClicked++;
    // every attachment and the .eml, each download taken as the click's own;
    // a second click when none came (Chromium now and then lets one click of
    // a quick run of downloads go without a download)
    const take = async (what, click) => {
      let why = null;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const [d] = await Promise.all([page.waitForEvent('download', { timeout: 8000 }), click()]);
          entries.get(d).source = what;
          if (attempt > 0)
            retried.push(what);
          why = null;
          break;
        } catch (e) {
          why = String(e.message || e);
        }
      }
      if (why !== null)
        downloads.push({ source: `${what} (none)`, suggested: '', url: '', failure: why });
      topClicked++;
    };
    const links = await page.$$('#attachments a');
    for (const link of links) {
      await link.hover({ timeout: 2000 }).catch(() => {});
      await take('attachment', () => link.click({ timeout: 5000 }));
    }
    if (state === 'open')
      await take('eml', () => page.click('#download-eml', { timeout: 5000 }));
    // a reader may also open an attachment in a new tab (middle or Ctrl click):
    // whatever the browser does then, a download or a page, must run nothing
    source = 'attachment-new-tab';
    for (const link of links)
      for (const how of [{ button: 'middle' }, { modifiers: ['ControlOrMeta'] }]) {
        await link.click({ timeout: 5000, ...how }).catch(() => {});
        topClicked++;
      }
    await sleep(links.length ? 500 : 0);
    source = 'other';
    await Promise.all(saving);
    await sleep(800);
    stages.interacted = await snapshot(context, page);
    await page.screenshot({ path: path.join(outdir, `${c.name}-after.png`), fullPage: true });

    const top = await page.evaluate((tags) => {
      const allowed = new Set(tags);
      const msg = document.getElementById('message');
      const handlers = [];
      document.querySelectorAll('*').forEach((e) => {
        for (const a of e.attributes)
          if (/^on/i.test(a.name))
            handlers.push(`${e.localName}[${a.name}]`);
      });
      return {
        state: document.body.dataset.state,
        error: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent,
        subject: document.getElementById('subject').textContent,
        from: document.getElementById('from').textContent,
        to: document.getElementById('to').textContent,
        cc: document.getElementById('cc').textContent,
        date: document.getElementById('date').textContent,
        message_text: msg.textContent,
        attachment_names: Array.from(document.querySelectorAll('#attachments a'), (a) => a.dataset.name),
        attachment_texts: Array.from(document.querySelectorAll('#attachments a'), (a) => a.textContent),
        foreign_elements: Array.from(msg.querySelectorAll('*')).filter((e) => !allowed.has(e.tagName))
          .map((e) => e.outerHTML.slice(0, 200)),
        handler_attributes: handlers,
      };
    }, VIEWER_TAGS);
    for (const p of popups) {          // where each popup went, and whether anything ran there
      try {
        p.url = p.page.url();
        Object.assign(p, await capped(p.page.evaluate(frameSnapshot)));
      } catch (e) {
        p.error = String(e.message || e).split('\n')[0];
      }
    }
    return {
      ...top, stages,
      body_frames: frames.map((f) => f.info),
      top_clicked: topClicked,
      popups: popups.map(({ page: _p, ...rest }) => rest),
      dialogs, downloads, websockets, downloads_retried: retried,
      requests: requests.slice(), request_failures: { ...failures }, routed_aborts: aborted.slice(),
      console: consoleLines,
    };
  } finally {
    await context.close();
  }
}

// main - run the manifest, write results.json
async function main() {
  const [manifestPath, outdir] = process.argv.slice(2);
  if (!manifestPath || !outdir) {
    console.error('usage: node drive_chromium_hostile.mjs MANIFEST OUTDIR');
    return 2;
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`drive_chromium_hostile: ${CHROMIUM} is not installed`);
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
      fs.mkdirSync(path.join(outdir, 'downloads', c.name), { recursive: true });
      try {
        results.cases[c.name] = await runCase(browser, c, manifest, outdir);
      } catch (e) {
        results.cases[c.name] = { driver_error: String(e && e.stack ? e.stack : e) };
      }
      console.error(`drive_chromium_hostile: ${c.name} done in ${Math.round(performance.now() - t0)} ms`);
    }
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(outdir, 'results.json'), JSON.stringify(results, null, 1));
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`drive_chromium_hostile: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
