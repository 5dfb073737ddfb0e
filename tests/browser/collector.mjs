// The collector (web/collector.js) in a real Chromium, loaded by a custom
// CCP page on its own origin (tests/browser/collector-ccp/) with a stubbed
// amazon-connect-streams, uploading through the stand-in API (the real
// presign function) to S3 (moto, behind a front where s3s-fs checks each
// POST's policy first), where the real classifier reads each upload.
//
// Run by tests/lambda/collector.rs, which sets CCP_ORIGIN (the test page's
// origin), STANDIN_ORIGIN, S3_ORIGIN, ID_TOKEN (agent-carol's) and
// EXPECT_FILE. Prints "ok <check>" per passed check and "UPLOADS <n>"
// (successful uploads); exits 1 with the failures otherwise.
import { writeFileSync } from 'node:fs';
import { launch } from './browser.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/lambda/collector.rs)`);
  return v;
};
const CCP = env('CCP_ORIGIN');
const ORIGIN = env('STANDIN_ORIGIN');
const S3_ORIGIN = env('S3_ORIGIN');
const DEBOUNCE_MS = 400;

const failures = [];
function check(ok, what, detail = '') {
  if (ok) console.log(`ok ${what}`);
  else failures.push(`${what}${detail ? `: ${detail}` : ''}`);
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { context, close } = await launch();
// Counted at the browser, not by the collector: what really went out.
const grants = [];
const posts = [];
context.on('request', (r) => {
  if (r.method() === 'POST' && r.url() === `${ORIGIN}/api/uploads`) grants.push(r);
  if (r.method() === 'POST' && r.url().startsWith(`${S3_ORIGIN}/`)) posts.push(r);
});
const counts = () => ({ grants: grants.length, posts: posts.length });

/** Waits until `cond()` (sync or async) holds, or `ms` pass; returns it. */
async function until(cond, ms = 20000) {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await sleep(50);
  return cond();
}
const uploadsSeen = (page) => page.evaluate(() => window.uploads.length);

// What the uploaded objects must hold, checked by the Rust test in the
// bucket (Chromium does not expose multipart bodies with a Blob to
// playwright): [{key, exact | contains}] written to EXPECT_FILE.
const expectations = [];
const keyOf = async (page, n) => page.evaluate((i) => window.uploads[i], n);

let successes = 0;
try {
  const page = await context.newPage();
  // Removes the S3 interceptions once their handlers have finished: a
  // handler still sleeping (the slow upload below) would otherwise call
  // route.continue() on a route that unroute() already let through, which
  // throws outside any await ("Route is already handled!").
  const unrouteS3 = () => page.unrouteAll({ behavior: 'wait' });
  const warnings = [];
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  await page.goto(`${CCP}/ccp.html?api=${encodeURIComponent(ORIGIN)}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.evaluate((t) => {
    window.testToken = t;
  }, env('ID_TOKEN'));

  // ---- the download format, and the cap ----
  const format = await page.evaluate(() => {
    const { serializeLog, logEntries } = window.collectorModule;
    window.ccpStub.call('11111111-0000-4000-8000-000000000000');
    window.ccpStub.roll();
    window.ccpStub.call('11111111-0000-4000-8000-000000000001');
    const entries = logEntries(window.connect.getLog());
    const full = serializeLog(entries, 10 ** 9);
    const bytes = (s) => new TextEncoder().encode(s).length;
    const cap = Math.floor(bytes(full.text) / 2);
    const cut = serializeLog(entries, cap);
    const filtered = logEntries(window.connect.getLog(), true);
    return {
      same: full.text === window.ccpStub.downloadText(),
      rolledFirst: entries[0].text.includes('-000000000000 SIGNALING null'),
      cutSize: bytes(cut.text),
      cap,
      cutIsTail: cut.text === JSON.stringify(entries.slice(cut.dropped), undefined, 4),
      cutIsLongest: bytes(JSON.stringify(entries.slice(cut.dropped - 1), undefined, 4)) > cap,
      filteredDebug: filtered.some((e) => e.level === 'DEBUG'),
      allDebug: entries.some((e) => e.level === 'DEBUG'),
    };
  });
  check(format.same && format.rolledFirst, 'the uploaded text is what "Download logs" writes (rolled logs first, 4-space JSON)');
  check(
    format.cutSize <= format.cap && format.cutIsTail && format.cutIsLongest,
    'a log over the cap keeps its newest entries that fit, nothing more cut',
    JSON.stringify(format),
  );
  check(format.allDebug && !format.filteredDebug, 'filterByLogLevel drops entries below the logger\'s level, as download() does');

  await page.evaluate((debounceMs) => {
    window.collector = window.startTestCollector({ debounceMs, retryBaseMs: 300, retryMaxMs: 1000, maxAttempts: 3 });
  }, DEBOUNCE_MS);

  // ---- one contact end, one upload ----
  await page.evaluate(() => window.ccpStub.call('22222222-0000-4000-8000-000000000001'));
  check(await until(() => counts().posts === 1), 'a contact end: one upload', JSON.stringify(counts()));
  check(await until(async () => (await uploadsSeen(page)) === 1), 'onUpload got its key');
  expectations.push({ key: await keyOf(page, 0), exact: await page.evaluate(() => window.ccpStub.downloadText()) });
  await sleep(DEBOUNCE_MS * 3);
  check(counts().grants === 1 && counts().posts === 1, 'and nothing more after it', JSON.stringify(counts()));
  successes += 1;

  // The classifier's verdict on that upload, read back through the API
  // (cross-origin, as a custom CCP would).
  const firstKey = await page.evaluate(() => window.uploads[0]);
  const verdict = await page.evaluate(
    async ([api, key]) => {
      for (let i = 0; i < 200; i++) {
        const r = await fetch(`${api}/api/results?key=${encodeURIComponent(key)}`, {
          headers: { Authorization: `Bearer ${window.testToken}` },
        });
        const body = await r.json();
        if (r.status === 200) {
          const doc = await (await fetch(body.json_url)).json();
          return doc.calls.map((c) => [c.contact_id, c.disconnected_by]);
        }
        await new Promise((res) => setTimeout(res, 250));
      }
      return null;
    },
    [ORIGIN, firstKey],
  );
  check(
    JSON.stringify(verdict) ===
      JSON.stringify([
        ['11111111-0000-4000-8000-000000000000', 'agent'],
        ['11111111-0000-4000-8000-000000000001', 'agent'],
        ['22222222-0000-4000-8000-000000000001', 'agent'],
      ]),
    'the classifier read the collected log: every call, agent hung up',
    JSON.stringify(verdict),
  );

  // ---- debounce: three quick ends, one upload ----
  await page.evaluate(() => {
    window.ccpStub.call('33333333-0000-4000-8000-000000000001');
    window.ccpStub.call('33333333-0000-4000-8000-000000000002');
    window.ccpStub.call('33333333-0000-4000-8000-000000000003');
  });
  check(await until(() => counts().posts === 2), 'three quick contact ends: an upload', JSON.stringify(counts()));
  await sleep(DEBOUNCE_MS * 3);
  check(counts().grants === 2 && counts().posts === 2, 'three quick contact ends: only one upload', JSON.stringify(counts()));
  check(await until(async () => (await uploadsSeen(page)) === 2), 'that upload succeeded');
  expectations.push({ key: await keyOf(page, 1), contains: ['33333333-0000-4000-8000-000000000003 SIGNALING'] });
  successes += 1;

  // ---- a failed S3 POST is retried ----
  let failOnce = true;
  await page.route(`${S3_ORIGIN}/**`, async (route) => {
    if (route.request().method() === 'POST' && failOnce) {
      failOnce = false;
      await route.fulfill({ status: 503, contentType: 'application/xml', headers: { 'Access-Control-Allow-Origin': CCP }, body: '<Error><Code>SlowDown</Code></Error>' });
    } else {
      await route.continue();
    }
  });
  warnings.length = 0;
  await page.evaluate(() => window.ccpStub.call('44444444-0000-4000-8000-000000000001'));
  check(await until(() => counts().posts === 4), 'a failed S3 POST: retried', JSON.stringify(counts()));
  check(await until(async () => (await uploadsSeen(page)) === 3), 'the retry succeeded');
  check(warnings.some((w) => /upload failed \(attempt 1 of 3\).*503 SlowDown.*retrying/.test(w)), 'the failure is logged (console.warn)', warnings.join(' | '));
  await sleep(DEBOUNCE_MS * 3);
  check(counts().grants === 4 && counts().posts === 4, 'one retry, no more', JSON.stringify(counts()));
  await unrouteS3();
  successes += 1;

  // ---- every attempt fails: an error, and the next contact end carries it ----
  await page.route(`${S3_ORIGIN}/**`, (route) =>
    route.request().method() === 'POST' ? route.abort('connectionreset') : route.continue(),
  );
  errors.length = 0;
  await page.evaluate(() => window.ccpStub.call('55555555-0000-4000-8000-000000000001'));
  check(await until(() => errors.some((e) => /tried again when the next contact ends/.test(e))), 'giving up is logged (console.error)', errors.join(' | '));
  check(counts().posts === 7, 'three attempts, then it stops (no storm)', JSON.stringify(counts()));
  await sleep(1500);
  check(counts().posts === 7 && counts().grants === 7, 'nothing while no contact ends', JSON.stringify(counts()));
  await unrouteS3();
  await page.evaluate(() => window.ccpStub.call('55555555-0000-4000-8000-000000000002'));
  check(await until(() => counts().posts === 8), 'the next contact end uploads again', JSON.stringify(counts()));
  check(await until(async () => (await uploadsSeen(page)) === 4), 'that upload succeeded');
  // It carries the contact whose upload failed: nothing dropped.
  expectations.push({
    key: await keyOf(page, 3),
    contains: ['55555555-0000-4000-8000-000000000001 SIGNALING', '55555555-0000-4000-8000-000000000002 SIGNALING'],
  });
  successes += 1;

  // ---- bounded: ends during a slow upload give one more upload, not one each ----
  await page.route(`${S3_ORIGIN}/**`, async (route) => {
    if (route.request().method() === 'POST') await sleep(4000);
    await route.continue();
  });
  await page.evaluate(() => window.ccpStub.call('66666666-0000-4000-8000-000000000001'));
  await until(() => counts().posts === 9);
  // While that POST hangs: three more ends, each past the debounce.
  const clicks = [];
  for (const n of [2, 3, 4]) {
    await sleep(DEBOUNCE_MS + 100);
    const t0 = Date.now();
    await page.evaluate((id) => window.ccpStub.call(id), `66666666-0000-4000-8000-00000000000${n}`);
    // The agent's UI stays responsive while the upload runs.
    await page.click('#busy-button');
    clicks.push(Date.now() - t0);
  }
  check(counts().posts === 9, 'one upload in flight at a time', JSON.stringify(counts()));
  await until(() => counts().posts === 10, 10000);
  await sleep(3000);
  check(counts().posts === 10 && counts().grants === 10, 'after it, one upload for all the ends meanwhile', JSON.stringify(counts()));
  check(clicks.every((ms) => ms < 1000), 'the page answers clicks during uploads', JSON.stringify(clicks));
  await unrouteS3();
  check(await until(async () => (await uploadsSeen(page)) === 6), 'both uploads succeeded');
  successes += 2;

  // ---- no token: no request, an error that says so ----
  errors.length = 0;
  await page.evaluate(() => {
    window.testToken = '';
    window.ccpStub.call('77777777-0000-4000-8000-000000000001');
  });
  check(await until(() => errors.some((e) => /no token/.test(e))), 'no token: logged as an error');
  check(counts().grants === 10, 'no token: nothing sent', JSON.stringify(counts()));
  await page.evaluate(() => window.collector.stop());
} catch (e) {
  failures.push(`exception: ${e.stack || e}`);
} finally {
  await close();
}
console.log(`UPLOADS ${successes}`);
writeFileSync(env('EXPECT_FILE'), JSON.stringify(expectations));
if (failures.length) {
  console.error(`${failures.length} collector checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('collector: all checks passed');
