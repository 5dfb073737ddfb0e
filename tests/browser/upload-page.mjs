// The upload page (web/) in a real Chromium, as agents use it, against the
// local stand-in of its deployment (tests/support/lambda/gateway.rs): the
// real presign function behind an emulated HTTP API with a JWT authorizer,
// a stand-in OIDC provider, an S3 front where s3s-fs checks each browser
// POST's policy before moto stores it, and the real classifier run on each
// upload.
//
// Run by tests/lambda/upload_page.rs, which sets:
//   STANDIN_ORIGIN  the page and API            S3_ORIGIN  the S3 endpoint
//   IDP_ORIGIN      the identity provider
//   SAMPLE_LOG      events/agent-log.txt        EXPECTED   its labels
//   NOT_A_LOG       a text file                 OVERSIZED  max_bytes + 1 bytes
//   HOSTILE_LOG     a log with a markup contact id, HOSTILE_ID that id
//   MAX_BYTES       the configured limit
// Prints "ok <check>" per passed check; exits 1 with the failures otherwise.
import { readFileSync } from 'node:fs';
import { launch } from './browser.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/lambda/upload_page.rs)`);
  return v;
};
const ORIGIN = env('STANDIN_ORIGIN');
const IDP_ORIGIN = env('IDP_ORIGIN');
const S3_ORIGIN = env('S3_ORIGIN');
const expected = JSON.parse(readFileSync(env('EXPECTED'), 'utf8'));
const MAX_BYTES = Number(env('MAX_BYTES'));
const TOKEN_KEY = 'ccp-disconnect.id_token';
// Polling for the result may take up to the page's own two minutes.
const RESULT_WAIT_MS = 130000;

const WHO = {
  agent: 'Agent hung up',
  customer: 'Customer hung up',
  network: 'Network dropped',
  not_connected: 'Not connected',
  unknown: 'Unknown',
};

const failures = [];
function check(ok, what, detail = '') {
  if (ok) console.log(`ok ${what}`);
  else failures.push(`${what}${detail ? `: ${detail}` : ''}`);
  return ok;
}

const { context, close } = await launch();
// Every request any page makes, to check the page talks to nobody else.
const requests = [];
context.on('request', (r) => requests.push(r.url()));

function watch(page) {
  // Keeps playwright's file chooser interception on for the page's life:
  // turned on per waitForEvent, it can lag behind the key press that opens
  // the chooser.
  page.on('filechooser', () => {});
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

const errorText = (page) => page.locator('#error').textContent();

async function waitForError(page, pattern, what) {
  try {
    await page.waitForFunction(
      (src) => {
        const el = document.getElementById('error');
        return !el.hidden && new RegExp(src, 'i').test(el.textContent);
      },
      pattern.source,
      { timeout: RESULT_WAIT_MS },
    );
    return check(true, what);
  } catch {
    return check(false, what, `error line is ${JSON.stringify(await errorText(page))}, status ${JSON.stringify(await page.locator('#status').textContent())}`);
  }
}

async function signIn(page, user) {
  await page.goto(`${ORIGIN}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.click('#sign-in');
  await page.waitForURL(`${IDP_ORIGIN}/idp/authorize?**`);
  await page.fill('#username', user);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${ORIGIN}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#sign-out:not([hidden])');
}

/** Uploads `path` with the keyboard: focus the drop zone, Enter, pick the file. */
async function chooseWithKeyboard(page, path) {
  // Keyboard input goes to the tab in front (other tabs were opened).
  await page.bringToFront();
  await page.focus('#drop');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
  await chooser.setFiles(path);
}

/** Drops a file on the drop zone, as a drag from the desktop does. */
async function dropFile(page, path, name) {
  const b64 = readFileSync(path).toString('base64');
  const transfer = await page.evaluateHandle(
    ([data, fileName]) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], fileName, { type: 'text/plain' }));
      return dt;
    },
    [b64, name],
  );
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
}

/** Waits for the verdict table; on a timeout, says what the page says instead. */
async function waitForTable(page, errors) {
  try {
    await page.waitForFunction(
      () =>
        (!document.getElementById('result').hidden && document.querySelector('#verdicts tbody tr')) ||
        !document.getElementById('error').hidden,
      undefined,
      { timeout: RESULT_WAIT_MS },
    );
  } catch {
    // Reported below with the page's state.
  }
  if ((await page.locator('#result').isHidden()) || (await page.locator('#verdicts tbody tr').count()) === 0) {
    throw new Error(
      `no verdict table; status ${JSON.stringify(await page.locator('#status').textContent())}, ` +
        `error ${JSON.stringify(await errorText(page))}, console errors ${JSON.stringify(errors)}`,
    );
  }
}

async function rows(page) {
  return page.$$eval('#verdicts tbody tr', (trs) =>
    trs.map((tr) => ({ cells: [...tr.cells].map((td) => td.textContent), who: tr.dataset.disconnectedBy })),
  );
}

let aliceKey;
let aliceToken;
try {
  // ---- 1. Alice, the happy path ----
  const page = await context.newPage();
  const errors = watch(page);
  const served = await page.goto(`${ORIGIN}/`);
  await page.waitForSelector('body[data-ready="true"]');
  // The page runs under the contract's CSP (no inline script or style; it
  // may connect to itself, S3 and the token endpoint only): any violation
  // would also be a console error below.
  const csp = served.headers()['content-security-policy'] || '';
  const connect = (csp.match(/connect-src ([^;]*)/) || [, ''])[1].split(' ');
  check(
    /script-src 'self'(;|$)/.test(csp) && /style-src 'self'(;|$)/.test(csp) &&
      connect.includes(S3_ORIGIN) && connect.includes(IDP_ORIGIN),
    'the page is served with a CSP allowing scripts and styles from itself only',
    csp,
  );
  check(
    (await page.locator('#who').textContent()) === 'Not signed in' &&
      (await page.locator('#sign-in').isVisible()) &&
      !(await page.locator('#upload').isVisible()),
    'signed out: the sign-in button, no upload zone',
  );
  // The API refuses a caller without a token, as the JWT authorizer does
  // (in another tab: the 401 is logged to that tab's console).
  const other = await context.newPage();
  await other.goto(`${ORIGIN}/`);
  const anonymous = await other.evaluate(async () => {
    const r = await fetch('/api/uploads', { method: 'POST', body: '{}' });
    return { status: r.status, body: await r.text() };
  });
  check(
    anonymous.status === 401 && JSON.parse(anonymous.body).message === 'Unauthorized',
    'no token: 401 from the authorizer',
    JSON.stringify(anonymous),
  );
  await other.close();

  await signIn(page, 'agent-alice');
  check(
    (await page.locator('#who').textContent()) === 'Signed in as agent-alice',
    'signed in: the name from the id token is shown',
    await page.locator('#who').textContent(),
  );
  check(!page.url().includes('code='), 'the authorization code is gone from the address bar', page.url());
  aliceToken = await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY);
  check(typeof aliceToken === 'string' && aliceToken.split('.').length === 3, 'the id token is kept in sessionStorage');

  const grantResponse = page.waitForResponse((r) => r.url() === `${ORIGIN}/api/uploads` && r.request().method() === 'POST');
  const s3Response = page.waitForResponse((r) => r.url().startsWith(S3_ORIGIN) && r.request().method() === 'POST');
  // The progress bar's values (<progress value> reflects its attribute).
  await page.evaluate(() => {
    window.progressSeen = [];
    const bar = document.getElementById('progress');
    new MutationObserver(() => {
      if (!document.getElementById('progress-line').hidden) window.progressSeen.push(bar.value);
    }).observe(bar, { attributes: true, attributeFilter: ['value'] });
  });
  await dropFile(page, env('SAMPLE_LOG'), 'agent-log.txt');
  const grant = await (await grantResponse).json();
  aliceKey = grant.key;
  check(/^uploads\/[^/]+\/\d{8}T\d{6}\.\d{3}Z-agent-alice-agent-log\.txt$/.test(aliceKey), 'the key is under the caller\'s folder', aliceKey);
  check((await s3Response).status() === 204, 'the presigned POST went straight to S3 (204)');
  const progress = await page.evaluate(() => window.progressSeen);
  check(progress.length > 0 && Math.max(...progress) === 100, 'the progress bar reached 100 %', JSON.stringify(progress));
  await waitForTable(page, errors);
  const table = await rows(page);
  check(table.length === expected.calls.length, `the table has the sample's ${expected.calls.length} calls`, JSON.stringify(table));
  for (const call of expected.calls) {
    const row = table.find((r) => r.cells[0] === call.contact_id);
    if (!check(!!row, `call ${call.contact_id} is in the table`)) continue;
    check(
      row.cells[1] === WHO[call.disconnected_by] && row.who === call.disconnected_by,
      `call ${call.contact_id}: ${WHO[call.disconnected_by]}`,
      row.cells[1],
    );
    check(row.cells[2] === call.reason, `call ${call.contact_id}: reason ${call.reason}`, row.cells[2]);
    if (call.confidence) {
      check(row.cells[3] === call.confidence, `call ${call.contact_id}: confidence ${call.confidence}`, row.cells[3]);
    }
  }
  const link = page.locator('#report-link');
  const href = await link.getAttribute('href');
  check((await link.isVisible()) && href.startsWith(`${S3_ORIGIN}/`), 'the report link is shown and points at S3', href);
  const report = await context.request.get(href);
  check(
    report.ok() && (await report.text()).includes('a5d8c1f0-3e6b-4a27-9c04-7b2e9f1d6a83'),
    'the report link opens the HTML report',
    String(report.status()),
  );
  check(/7 calls: 2 agent, 2 customer, 1 network, 1 not connected, 1 unknown/.test(await page.locator('#summary').textContent()), 'the summary line');
  check((await page.locator('#error').isHidden()) && (await page.locator('#status').textContent()) === 'Done.', 'no error, "Done."');
  check(errors.length === 0, 'no console errors on the happy path', errors.join(' | '));

  // ---- 2. What the log says is text, never markup ----
  await chooseWithKeyboard(page, env('HOSTILE_LOG'));
  await waitForTable(page, errors);
  const hostileRows = await rows(page);
  check(
    hostileRows.some((r) => r.cells[0] === env('HOSTILE_ID')),
    'a contact id made of markup is in the table, as text',
    JSON.stringify(hostileRows),
  );
  check(
    (await page.evaluate(() => window.__pwned)) === undefined && (await page.locator('#verdicts img, #verdicts script').count()) === 0,
    'a contact id made of markup is shown as text, not run',
  );

  // ---- 3. Failures, each with its message ----
  await chooseWithKeyboard(page, env('NOT_A_LOG'));
  await waitForError(page, /not a CCP log/, 'a text file: "not a CCP log" with the reason');
  check(await page.locator('#result').isHidden(), 'a rejected file shows no table');

  const before = requests.length;
  await page.setInputFiles('#file', env('OVERSIZED'));
  await waitForError(page, /too large/, 'an oversized file: "too large" before any upload');
  check(!requests.slice(before).some((u) => u.includes('/api/uploads')), 'the client-side check asks nothing of the server');

  // The server's own limit (413), when the page's check is out of step.
  await page.route(`${ORIGIN}/config.json`, async (route) => {
    const resp = await route.fetch();
    const config = await resp.json();
    await route.fulfill({ response: resp, json: { ...config, max_bytes: config.max_bytes * 4 } });
  });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  const refused = page.waitForResponse((r) => r.url() === `${ORIGIN}/api/uploads`);
  await page.setInputFiles('#file', env('OVERSIZED'));
  check((await refused).status() === 413, 'the function refuses more than max_bytes (413)');
  await waitForError(page, /too large/, 'a 413: "too large"');
  await page.unroute(`${ORIGIN}/config.json`);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');

  // S3 refuses a form changed after the API signed it (its key, still in
  // Alice's folder): the page says the storage refused it. s3s-fs answers
  // 400 InvalidPolicyDocument where AWS S3 answers 403 AccessDenied; the
  // Rust test checks nothing was stored.
  await page.route(`${ORIGIN}/api/uploads`, async (route) => {
    const resp = await route.fetch();
    const grant = await resp.json();
    await route.fulfill({ response: resp, json: { ...grant, fields: { ...grant.fields, key: `${grant.fields.key}-altered` } } });
  });
  const s3Refusal = page.waitForResponse((r) => r.url().startsWith(S3_ORIGIN) && r.request().method() === 'POST');
  await page.setInputFiles('#file', env('SAMPLE_LOG'));
  const refusalStatus = (await s3Refusal).status();
  check(refusalStatus >= 400 && refusalStatus < 500, 'a form changed after signing: S3 refuses it', String(refusalStatus));
  await waitForError(
    page,
    /storage refused the upload \((InvalidPolicyDocument|AccessDenied)/,
    'an S3 refusal: "the storage refused the upload", with S3\'s code',
  );
  check(await page.locator('#result').isHidden(), 'a refused upload shows no table');
  await page.unroute(`${ORIGIN}/api/uploads`);

  // Network error: S3 unreachable.
  await page.route(`${S3_ORIGIN}/**`, (route) => route.abort('connectionrefused'));
  await page.setInputFiles('#file', env('SAMPLE_LOG'));
  await waitForError(page, /network error/, 'S3 unreachable: "network error"');
  await page.unroute(`${S3_ORIGIN}/**`);

  // Timeout: the result never comes (the page's clock runs on).
  await page.clock.install();
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.route(`${ORIGIN}/api/results?**`, (route) =>
    route.fulfill({ status: 202, json: { status: 'pending', key: 'x' } }),
  );
  await page.setInputFiles('#file', env('SAMPLE_LOG'));
  await page.waitForFunction(() => /Waiting for the result/.test(document.getElementById('status').textContent));
  for (let i = 0; i < 30 && (await page.locator('#error').isHidden()); i++) {
    await page.clock.runFor(10000);
    await page.waitForTimeout(100);
  }
  await waitForError(page, /timed out/, 'no result within two minutes: "timed out"');
  await page.unroute(`${ORIGIN}/api/results?**`);
  await page.close();

  // A redirect back with a code this tab did not ask for (login CSRF,
  // RFC 6749 §10.12): refused, no token exchange, no token kept.
  const forged = await context.newPage();
  const tokenCalls = requests.filter((u) => u.endsWith('/idp/token')).length;
  await forged.goto(`${ORIGIN}/?code=stolen&state=not-this-tabs`);
  await waitForError(forged, /does not match this tab/, 'a forged redirect (state): refused');
  check(
    requests.filter((u) => u.endsWith('/idp/token')).length === tokenCalls &&
      (await forged.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)) === null,
    'a forged redirect: no token exchange, no token',
  );
  await forged.close();

  // Session expired: a token the authorizer refuses (its signature) and one
  // past its exp (the page notices before asking).
  const expired = await context.newPage();
  await expired.goto(`${ORIGIN}/`);
  await expired.evaluate(
    ([k, t]) => {
      const [h, p] = t.split('.');
      sessionStorage.setItem(k, `${h}.${p}.${'A'.repeat(43)}`);
    },
    [TOKEN_KEY, aliceToken],
  );
  await expired.reload();
  await expired.waitForSelector('body[data-ready="true"]');
  const unauthorized = expired.waitForResponse((r) => r.url() === `${ORIGIN}/api/uploads`);
  await expired.setInputFiles('#file', env('SAMPLE_LOG'));
  check((await unauthorized).status() === 401, 'a forged token: 401');
  await waitForError(expired, /session has expired or you are not signed in/, 'a 401: "sign in again"');
  check(await expired.locator('#sign-in').isVisible(), 'a 401 brings the sign-in button back');
  await expired.evaluate(
    ([k, t]) => {
      const [h, p, s] = t.split('.');
      const claims = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/')));
      claims.exp = Math.floor(Date.now() / 1000) - 60;
      const b64 = btoa(JSON.stringify(claims)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      sessionStorage.setItem(k, `${h}.${b64}.${s}`);
    },
    [TOKEN_KEY, aliceToken],
  );
  await expired.reload();
  await waitForError(expired, /session has expired/, 'an expired token: "session has expired"');
  await expired.close();

  // ---- 4. Bob may not read Alice's result nor write into her folder ----
  const bob = await context.newPage();
  await signIn(bob, 'agent-bob');
  const aliceFolder = aliceKey.split('/').slice(0, 2).join('/') + '/';
  const attempts = await bob.evaluate(
    async ([key, folder, tokenKey]) => {
      const auth = { Authorization: `Bearer ${sessionStorage.getItem(tokenKey)}` };
      const read = await fetch(`/api/results?key=${encodeURIComponent(key)}`, { headers: auth });
      const grantResp = await fetch('/api/uploads', {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ file_name: `../../${folder}agent-log.txt`, size: 10 }),
      });
      const grant = await grantResp.json();
      // From Bob's own folder up and into Alice's.
      const bobFolder = grant.key.split('/').slice(0, 2).join('/') + '/';
      const traversal = await fetch(`/api/results?key=${encodeURIComponent(`${bobFolder}../${key.split('/').slice(1).join('/')}`)}`, {
        headers: auth,
      });
      // Bob's own grant, its key pointed into Alice's folder.
      const form = new FormData();
      for (const [k, v] of Object.entries(grant.fields)) form.append(k, k === 'key' ? `${folder}planted.txt` : v);
      form.append('file', new Blob(['[{"text":"x","time":"2026-01-01T00:00:00.000Z"}]'], { type: 'text/plain' }));
      const post = await fetch(grant.url, { method: 'POST', body: form });
      return {
        read: { status: read.status, body: await read.json() },
        traversal: traversal.status,
        grantKey: grant.key,
        post: { status: post.status, body: await post.text() },
      };
    },
    [aliceKey, aliceFolder, TOKEN_KEY],
  );
  check(attempts.read.status === 403 && attempts.read.body.error === 'forbidden', 'Bob reading Alice\'s result: 403 forbidden', JSON.stringify(attempts.read));
  check(attempts.traversal === 403, 'Bob reading through ../: 403', String(attempts.traversal));
  check(
    attempts.grantKey.startsWith('uploads/') && !attempts.grantKey.startsWith(aliceFolder) && !attempts.grantKey.includes('..'),
    'a file name with ../ and Alice\'s folder stays in Bob\'s folder',
    attempts.grantKey,
  );
  // The key condition fails: s3s-fs answers 400 InvalidPolicyDocument (AWS
  // S3: 403 AccessDenied); the Rust test checks nothing was stored.
  check(
    (attempts.post.status < 200 || attempts.post.status >= 300) &&
      /<Code>InvalidPolicyDocument<\/Code>/.test(attempts.post.body),
    'S3 refuses Bob\'s upload into Alice\'s folder (policy)',
    JSON.stringify(attempts.post),
  );
  await bob.bringToFront();
  await bob.click('#sign-out');
  check(
    (await bob.locator('#who').textContent()) === 'Not signed in' &&
      (await bob.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)) === null &&
      (await bob.locator('#upload').isHidden()),
    'sign out: the token is gone, so is the upload zone',
  );
  await bob.close();

  // ---- 5. Nobody else was contacted ----
  const origins = new Set(requests.filter((u) => /^https?:/.test(u)).map((u) => new URL(u).origin));
  const strangers = [...origins].filter((o) => ![ORIGIN, IDP_ORIGIN, S3_ORIGIN].includes(o));
  check(
    strangers.length === 0 && origins.has(S3_ORIGIN) && origins.has(IDP_ORIGIN),
    'requests only to the API, the identity provider and S3',
    [...origins].join(' '),
  );
} catch (e) {
  failures.push(`exception: ${e.stack || e}`);
} finally {
  await close();
}
console.log(`ALICE_KEY ${aliceKey || ''}`);
if (failures.length) {
  console.error(`${failures.length} upload page checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('upload page: all checks passed');
