// Opens every HTML report in DIR in a real Chromium, as a user would (file://),
// and checks what the user gets against the result document beside it.
//
//   node tests/browser/check-reports.mjs DIR
//
// DIR holds, per input, `<name>.html` (classify --html) and `<name>.json`
// (classify --out). A report may also have `<name>.literal.json`:
// {"shown": [...], "absent": [...]}, strings its text must and must not hold
// (the hostile log: markup shown as text, bidi controls shown escaped).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from './browser.mjs';

const LABELS = {
  agent: 'Agent hung up',
  customer: 'Customer hung up',
  network: 'Network dropped',
  not_connected: 'Not connected',
  unknown: 'Unknown',
};
// Calls that get a full section (the renderer's DETAILED_CALLS).
const DETAILED_CALLS = 200;

// The characters the page must show as `\u{…}` rather than send: control
// characters, bidi embeddings/overrides/isolates, invisible marks. Written
// independently of the renderer, from the same rule.
function shownEscaped(ch) {
  const c = ch.codePointAt(0);
  return (
    c <= 0x1f ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x061c ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2060 && c <= 0x2069) ||
    c === 0xfeff ||
    (c >= 0xfff9 && c <= 0xfffb)
  );
}
const visible = (s) =>
  [...s].map((ch) => (shownEscaped(ch) ? `\\u{${ch.codePointAt(0).toString(16)}}` : ch)).join('');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node check-reports.mjs DIR');
  process.exit(2);
}
const reports = readdirSync(dir)
  .filter((f) => f.endsWith('.html'))
  .sort();
if (reports.length === 0) {
  console.error(`no .html reports in ${dir}`);
  process.exit(1);
}

const failures = [];
const { context, close } = await launch();
try {
  for (const name of reports) {
    const problems = await check(name);
    if (problems.length) {
      failures.push(`${name}:\n  ${problems.join('\n  ')}`);
    } else {
      console.log(`ok ${name}`);
    }
  }
} finally {
  await close();
}
if (failures.length) {
  console.error(`${failures.length} of ${reports.length} reports failed:\n${failures.join('\n')}`);
  process.exit(1);
}
console.log(`${reports.length} reports checked`);

async function check(name) {
  const problems = [];
  const file = resolve(dir, name);
  const url = pathToFileURL(file).href;
  const docPath = file.replace(/\.html$/, '.json');
  if (!existsSync(docPath)) return [`no result document ${docPath} beside it`];
  const doc = JSON.parse(readFileSync(docPath, 'utf8'));
  // Hand-written labels (a scenario's .expect.json), when the caller put
  // them beside the report as `<name>.labels.json`: an expectation that
  // does not come from the program's own output.
  const labelsPath = file.replace(/\.html$/, '.labels.json');
  const labels = existsSync(labelsPath) ? JSON.parse(readFileSync(labelsPath, 'utf8')) : null;
  const literalPath = file.replace(/\.html$/, '.literal.json');
  const literal = existsSync(literalPath) ? JSON.parse(readFileSync(literalPath, 'utf8')) : null;

  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => {
    problems.push(`a dialog opened: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('popup', () => problems.push('a popup opened'));
  await page.goto(url, { waitUntil: 'load' });
  // Give anything deferred (an onerror after a failed image load, a timer)
  // the chance to run, so that its absence means something.
  await page.waitForTimeout(literal ? 300 : 50);

  const facts = await page.evaluate(() => ({
    pwned: typeof window.__pwned,
    scripts: document.scripts.length,
    csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? null,
    sections: [...document.querySelectorAll('section.call')].map((s) => ({
      id: s.id,
      contact: s.getAttribute('data-contact-id'),
      classes: [...s.classList],
      badge: s.querySelector('h2 .badge')?.textContent ?? null,
      evidence: [...s.querySelectorAll('ol.evidence li')].map((li) => li.getAttribute('data-index')),
      marks: [...s.querySelectorAll('svg.timeline a.ev[id]')].map((a) => ({
        id: a.id,
        target: a.getAttribute('href'),
        targetExists: !!document.getElementById((a.getAttribute('href') || '').slice(1)),
      })),
      timelines: s.querySelectorAll('svg.timeline').length,
      endMark: !!s.querySelector(`svg.timeline g.end-mark[id="${s.id}-end"]`),
    })),
    rejected: document.querySelector('#rejected')?.textContent ?? null,
    legend: document.querySelector('.legend')?.textContent ?? null,
    badgeBackground: document.querySelector('.badge')
      ? getComputedStyle(document.querySelector('.badge')).backgroundColor
      : null,
    bodyMargin: getComputedStyle(document.body).maxWidth,
    text: document.documentElement.textContent,
  }));
  await page.close();

  if (requests.length !== 1 || requests[0] !== url) {
    problems.push(`requests other than the report itself: ${JSON.stringify(requests.filter((r) => r !== url))}`);
  }
  if (facts.pwned !== 'undefined') problems.push('a script ran: window.__pwned is set');
  if (facts.scripts !== 0) problems.push(`${facts.scripts} script elements in the DOM`);
  if (!facts.csp || !facts.csp.startsWith("default-src 'none'; style-src 'sha256-")) {
    problems.push(`unexpected Content-Security-Policy: ${facts.csp}`);
  }
  // The stylesheet applied (its CSP hash matched): the body is width-capped.
  if (facts.bodyMargin !== '1100px') problems.push(`the stylesheet did not apply (body max-width ${facts.bodyMargin})`);
  for (const ch of facts.text) {
    if (shownEscaped(ch) && ch !== '\n') {
      problems.push(`raw U+${ch.codePointAt(0).toString(16).padStart(4, '0')} in the page text`);
      break;
    }
  }

  if (doc.status === 'rejected') {
    if (!facts.rejected || !facts.rejected.includes('could not be read')) problems.push('no rejection notice');
    else if (!facts.rejected.includes(doc.error.kind)) problems.push(`the rejection notice lacks the kind ${doc.error.kind}`);
    if (facts.sections.length) problems.push('call sections on a rejected log');
    return problems;
  }

  const s = doc.summary;
  for (const [k, label] of Object.entries(LABELS)) {
    if (!facts.legend?.includes(`${label}: ${s[k]}`)) problems.push(`summary lacks "${label}: ${s[k]}"`);
  }
  const expected = doc.calls.slice(0, DETAILED_CALLS);
  if (facts.sections.length !== expected.length) {
    problems.push(`${facts.sections.length} call sections, the document has ${expected.length} calls`);
  }
  if (facts.sections.length && facts.badgeBackground === 'rgba(0, 0, 0, 0)') {
    problems.push('verdict badges have no colour (stylesheet blocked?)');
  }
  expected.forEach((call, i) => {
    const n = i + 1;
    const sec = facts.sections.find((x) => x.id === `call-${n}`);
    if (!sec) return problems.push(`no section call-${n} for ${call.contact_id}`);
    if (sec.contact !== visible(call.contact_id)) {
      problems.push(`call-${n}: data-contact-id ${JSON.stringify(sec.contact)}, expected ${JSON.stringify(visible(call.contact_id))}`);
    }
    if (!sec.classes.includes(`v-${call.disconnected_by}`)) problems.push(`call-${n}: not marked ${call.disconnected_by}`);
    if (sec.badge !== LABELS[call.disconnected_by]) problems.push(`call-${n}: badge says ${sec.badge}`);
    if (!facts.text.includes(visible(call.contact_id))) problems.push(`call-${n}: contact id not shown`);
    if (sec.timelines < 1) problems.push(`call-${n}: no timeline SVG`);
    if (!sec.endMark) problems.push(`call-${n}: no end mark on the timeline`);
    for (const e of call.evidence) {
      const index = String(e.index);
      if (!sec.evidence.includes(index)) problems.push(`call-${n}: evidence entry ${index} not listed`);
      const mark = sec.marks.find((m) => m.id === `call-${n}-mark-${index}`);
      if (!mark) problems.push(`call-${n}: evidence entry ${index} has no mark on the timeline`);
      else if (mark.target !== `#call-${n}-ev-${index}` || !mark.targetExists) {
        problems.push(`call-${n}: mark of entry ${index} links to ${mark.target}`);
      }
    }
  });

  for (const label of labels?.calls ?? []) {
    const sec = facts.sections.find((x) => x.contact === visible(label.contact_id));
    if (!sec) {
      problems.push(`labelled call ${label.contact_id} has no section`);
      continue;
    }
    if (!sec.classes.includes(`v-${label.disconnected_by}`)) {
      problems.push(`${sec.id}: labelled ${label.disconnected_by}, shown as ${sec.classes.join(' ')}`);
    }
    for (const index of label.evidence_indices ?? []) {
      if (!sec.evidence.includes(String(index))) problems.push(`${sec.id}: labelled evidence entry ${index} not listed`);
    }
  }
  if (labels && !labels.calls) problems.push(`${labelsPath} has no "calls"`);

  if (literal) {
    for (const want of literal.shown ?? []) {
      if (!facts.text.includes(want)) problems.push(`text does not show ${JSON.stringify(want)} literally`);
    }
    for (const bad of literal.absent ?? []) {
      if (facts.text.includes(bad)) problems.push(`text holds ${JSON.stringify(bad)}`);
    }
  }
  return problems;
}
