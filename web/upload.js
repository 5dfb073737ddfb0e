// The upload page: sign in (OIDC authorization code + PKCE), upload a CCP log
// straight to S3 with a presigned POST, wait for the classifier's result and
// show it.
//
// Served with `script-src 'self'; style-src 'self'`: no inline script or
// style, no framework, nothing fetched from any origin but this API, the
// identity provider's token endpoint and the uploads bucket.
//
// Everything that comes from the result document or a server (contact ids,
// messages, names) is attacker-controllable (the log is the uploader's) and
// is only ever inserted with textContent, never as markup.

const TOKEN_KEY = 'ccp-disconnect.id_token';
const STATE_KEY = 'ccp-disconnect.oidc_state';
const VERIFIER_KEY = 'ccp-disconnect.pkce_verifier';

// Polling for the result: the classifier usually answers in seconds (an S3
// notification, then one Lambda invocation); past two minutes something is
// wrong and the agent should hear so rather than watch a spinner.
const POLL_FIRST_MS = 1000;
const POLL_FACTOR = 1.5;
const POLL_MAX_MS = 8000;
const POLL_TIMEOUT_MS = 120000;

// The verdict words, as the HTML report shows them.
const WHO = {
  agent: 'Agent hung up',
  customer: 'Customer hung up',
  network: 'Network dropped',
  not_connected: 'Not connected',
  unknown: 'Unknown',
};

// Plain words for the rejection kinds of the result document
// (schema/result-v1.schema.json, error.kind; README "rejected" table).
const REJECTED = {
  empty: 'The file is empty.',
  not_json: 'This is not a CCP log: the file is not JSON. Use the file the CCP\'s "Download logs" saves (agent-log.txt).',
  not_ccp_log: 'This is not a CCP log: it is JSON, but no entry looks like a CCP log line. Use the file the CCP\'s "Download logs" saves (agent-log.txt).',
  malformed_json: 'The log is damaged: its JSON breaks off or is malformed (was the download cut short?).',
  bad_gzip: 'The file is gzip-compressed but cannot be decompressed (corrupt or cut short).',
  too_large: 'The log is too large for the classifier.',
};

const $ = (id) => document.getElementById(id);
const ui = {
  who: $('who'),
  signIn: $('sign-in'),
  signOut: $('sign-out'),
  status: $('status'),
  error: $('error'),
  upload: $('upload'),
  drop: $('drop'),
  file: $('file'),
  progressLine: $('progress-line'),
  progress: $('progress'),
  progressText: $('progress-text'),
  result: $('result'),
  summary: $('summary'),
  tbody: document.querySelector('#verdicts tbody'),
  reportLine: $('report-line'),
  reportLink: $('report-link'),
};

let config = null;
let busy = false;

// ---- messages ----

function say(text) {
  ui.status.textContent = text;
}

function fail(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  say('');
}

function clearMessages() {
  ui.error.textContent = '';
  ui.error.hidden = true;
  say('');
}

/** A message for a failed call to this API, by status and the JSON error body. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const mib = (n) => `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;

function tooLargeMessage(size) {
  return (
    `The file is too large: ${mib(size)}, and the limit is ${mib(config.max_bytes)}. ` +
    'Download the log again right after the call (it grows all day), or compress it with gzip.'
  );
}

function explain(err) {
  if (err instanceof ApiError) {
    switch (err.status) {
      case 401:
        return 'Your session has expired or you are not signed in. Sign in again, then upload the file again.';
      case 403:
        return `Not allowed: ${err.message || 'this belongs to someone else.'}`;
      case 413:
        return err.message
          ? `The file is too large: ${err.message}`
          : 'The file is too large.';
      default:
        return `The server could not do this (${err.status}): ${err.message || 'no details'}`;
    }
  }
  if (err && err.network) {
    return 'Network error: the page could not reach the server. Check the connection (VPN, proxy) and try again.';
  }
  return (err && err.message) || String(err);
}

// ---- base64url, PKCE, tokens ----

function base64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

// RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))).
async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, without checking it (the API checks it; this is for display and expiry). */
function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

function redirectUri() {
  return location.origin + location.pathname;
}

function currentToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const claims = claimsOf(token);
  if (!claims) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    sessionStorage.removeItem(TOKEN_KEY);
    fail('Your session has expired. Sign in again.');
    return null;
  }
  return token;
}

async function signIn() {
  const verifier = randomString(48);
  const state = randomString(24);
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  sessionStorage.setItem(STATE_KEY, state);
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes || 'openid',
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${config.authorize_url}?${params}`);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (config.logout_url) {
    // Cognito's /logout takes client_id and logout_uri; other providers'
    // end-session endpoints take post_logout_redirect_uri.
    const params = new URLSearchParams({
      client_id: config.client_id,
      logout_uri: redirectUri(),
      post_logout_redirect_uri: redirectUri(),
    });
    location.assign(`${config.logout_url}?${params}`);
    return;
  }
  showSignedOut();
  say('Signed out.');
}

/** Back from the identity provider with ?code=&state= (or ?error=). */
async function finishSignIn(params) {
  const expected = sessionStorage.getItem(STATE_KEY);
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(STATE_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  // Drop the code from the address bar and history either way.
  history.replaceState(null, '', location.pathname);
  if (params.get('error')) {
    fail(`Sign-in failed: ${params.get('error_description') || params.get('error')}`);
    return;
  }
  // RFC 6749 §10.12: a state that is not the one this tab sent is a forged
  // or replayed redirect.
  if (!expected || !verifier || params.get('state') !== expected) {
    fail('Sign-in failed: the answer from the sign-in page does not match this tab. Sign in again.');
    return;
  }
  say('Signing in…');
  let resp;
  try {
    resp = await fetch(config.token_url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: config.client_id,
        code: params.get('code') || '',
        redirect_uri: redirectUri(),
        code_verifier: verifier,
      }),
    });
  } catch {
    fail('Network error: the sign-in server could not be reached. Try again.');
    return;
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok || typeof body.id_token !== 'string' || !claimsOf(body.id_token)) {
    fail(`Sign-in failed: ${body.error_description || body.error || `the token endpoint answered ${resp.status}`}`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, body.id_token);
  say('');
}

function showSignedIn(token) {
  const c = claimsOf(token) || {};
  const name =
    [c.preferred_username, c['cognito:username'], c.username, c.email, c.name, c.sub].find(
      (v) => typeof v === 'string' && v !== '',
    ) || 'unknown user';
  ui.who.textContent = `Signed in as ${name}`;
  ui.signIn.hidden = true;
  ui.signOut.hidden = false;
  ui.upload.hidden = false;
}

function showSignedOut() {
  ui.who.textContent = 'Not signed in';
  ui.signIn.hidden = false;
  ui.signOut.hidden = true;
  ui.upload.hidden = true;
}

// ---- the API ----

async function api(method, path, body) {
  const token = currentToken();
  if (!token) throw new ApiError(401, 'unauthenticated', '');
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw Object.assign(new Error('network'), { network: true });
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    // API Gateway's JWT authorizer answers {"message":"Unauthorized"}; the
    // function {"error":"unauthenticated",...}. Either way the token is no good.
    sessionStorage.removeItem(TOKEN_KEY);
    showSignedOut();
  }
  if (!resp.ok && resp.status !== 202) {
    throw new ApiError(resp.status, data.error || '', typeof data.message === 'string' ? data.message : '');
  }
  return { status: resp.status, data };
}

/** The S3 error code and message of an XML error body, as text. */
function s3Error(xhr) {
  try {
    const doc = new DOMParser().parseFromString(xhr.responseText || '', 'application/xml');
    const code = doc.querySelector('Error > Code')?.textContent || '';
    const message = doc.querySelector('Error > Message')?.textContent || '';
    return { code, message };
  } catch {
    return { code: '', message: '' };
  }
}

/** The multipart POST to S3: every policy field, then `file` last (S3 ignores fields after it). */
function postToS3(grant, file) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
    form.append('file', file);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', grant.url);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) {
        const pct = Math.round((e.loaded / e.total) * 100);
        ui.progress.value = pct;
        ui.progressText.textContent = `${pct} %`;
      }
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve();
        return;
      }
      const { code, message } = s3Error(xhr);
      if (code === 'EntityTooLarge') {
        reject(new Error(tooLargeMessage(file.size)));
      } else if (xhr.status >= 400 && xhr.status < 500) {
        // A refusal of this form, whatever the status: S3 answers a failed
        // policy condition or an expired form with 403 AccessDenied, other
        // S3-compatible servers with 400 (InvalidPolicyDocument).
        reject(
          new Error(
            `The storage refused the upload (${code || xhr.status}${message ? `: ${message}` : ''}). ` +
              'The upload link may have expired; try again.',
          ),
        );
      } else {
        reject(new Error(`The upload failed (${xhr.status} ${code}${message ? `: ${message}` : ''}).`));
      }
    });
    xhr.addEventListener('error', () => reject(Object.assign(new Error('network'), { network: true })));
    xhr.addEventListener('timeout', () => reject(Object.assign(new Error('network'), { network: true })));
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForResult(key) {
  const started = Date.now();
  let delay = POLL_FIRST_MS;
  for (;;) {
    const { status, data } = await api('GET', `/api/results?key=${encodeURIComponent(key)}`);
    if (status === 200 && data.status === 'ready') return data;
    if (Date.now() - started + delay > POLL_TIMEOUT_MS) {
      throw new Error(
        'Timed out: the log was uploaded, but no result came within two minutes. ' +
          'Reload the page later to try again, or ask your administrator to look at the classifier.',
      );
    }
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, delay * POLL_FACTOR);
  }
}

async function fetchDocument(url) {
  let resp;
  try {
    resp = await fetch(url, { cache: 'no-store', credentials: 'omit' });
  } catch {
    throw Object.assign(new Error('network'), { network: true });
  }
  if (!resp.ok) throw new Error(`The result could not be read (${resp.status}); the link may have expired. Try again.`);
  try {
    return await resp.json();
  } catch {
    throw new Error('The result could not be read: it is not JSON.');
  }
}

// ---- the result ----

function text(el, value) {
  el.textContent = value === null || value === undefined ? '' : String(value);
  return el;
}

function safeHttpUrl(value) {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function showResult(doc, ready) {
  ui.tbody.replaceChildren();
  ui.result.hidden = false;
  if (doc.status === 'rejected') {
    const kind = doc.error && typeof doc.error.kind === 'string' ? doc.error.kind : '';
    const detail = doc.error && typeof doc.error.message === 'string' ? doc.error.message : '';
    ui.result.hidden = true;
    fail(`${REJECTED[kind] || 'The log could not be read.'}${detail ? `\nDetails: ${detail}` : ''}`);
    return;
  }
  const calls = Array.isArray(doc.calls) ? doc.calls : [];
  const s = doc.summary || {};
  text(
    ui.summary,
    calls.length === 0
      ? 'No calls in this log.'
      : `${s.calls} calls: ${s.agent} agent, ${s.customer} customer, ${s.network} network, ` +
          `${s.not_connected} not connected, ${s.unknown} unknown.`,
  );
  for (const call of calls) {
    const tr = document.createElement('tr');
    const who = String(call.disconnected_by);
    tr.append(
      text(document.createElement('td'), call.contact_id),
      text(document.createElement('td'), WHO[who] || who),
      text(document.createElement('td'), call.reason),
      text(document.createElement('td'), call.confidence),
    );
    tr.cells[0].className = 'contact';
    // Only known verdicts become a class name.
    if (WHO[who]) tr.cells[1].className = `v-${who}`;
    tr.dataset.disconnectedBy = who;
    ui.tbody.append(tr);
  }
  const href = ready.html_url ? safeHttpUrl(ready.html_url) : null;
  if (href) ui.reportLink.href = href;
  ui.reportLine.hidden = !href;
  say('Done.');
}

// ---- the upload ----

async function handleFile(file) {
  if (busy || !file) return;
  clearMessages();
  ui.result.hidden = true;
  ui.tbody.replaceChildren();
  ui.reportLine.hidden = true;
  if (!currentToken()) {
    showSignedOut();
    if (ui.error.hidden) fail('You are not signed in. Sign in first, then choose the file again.');
    return;
  }
  if (file.size === 0) {
    fail(REJECTED.empty);
    return;
  }
  if (file.size > config.max_bytes) {
    fail(tooLargeMessage(file.size));
    return;
  }
  busy = true;
  ui.drop.classList.add('busy');
  ui.drop.setAttribute('aria-disabled', 'true');
  ui.file.disabled = true;
  try {
    say('Preparing the upload…');
    const { data: grant } = await api('POST', '/api/uploads', {
      file_name: file.name,
      size: file.size,
      ...(file.type ? { content_type: file.type } : {}),
    });
    ui.progress.value = 0;
    ui.progressText.textContent = '0 %';
    ui.progressLine.hidden = false;
    say('Uploading…');
    await postToS3(grant, file);
    ui.progressLine.hidden = true;
    say('Uploaded. Waiting for the result…');
    const ready = await waitForResult(grant.key);
    const doc = await fetchDocument(ready.json_url);
    showResult(doc, ready);
  } catch (err) {
    ui.progressLine.hidden = true;
    fail(explain(err));
  } finally {
    busy = false;
    ui.drop.classList.remove('busy');
    ui.drop.removeAttribute('aria-disabled');
    ui.file.disabled = false;
    ui.file.value = '';
  }
}

function wireDropZone() {
  ui.drop.addEventListener('click', () => ui.file.click());
  ui.drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      ui.file.click();
    }
  });
  ui.drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.drop.classList.remove('over');
    const files = e.dataTransfer.files;
    if (files.length > 1) {
      fail('Drop one file at a time.');
      return;
    }
    handleFile(files[0]);
  });
  // A file dropped next to the zone would otherwise be opened by the browser.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  ui.file.addEventListener('change', () => handleFile(ui.file.files[0]));
}

async function main() {
  try {
    const resp = await fetch('/config.json', { cache: 'no-store' });
    if (!resp.ok) throw new Error(String(resp.status));
    config = await resp.json();
  } catch {
    fail('The page could not load its settings (config.json). Reload the page; if it goes on, tell your administrator.');
    return;
  }
  ui.signIn.addEventListener('click', () => signIn());
  ui.signOut.addEventListener('click', () => signOut());
  wireDropZone();

  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) await finishSignIn(params);

  const token = currentToken();
  if (token) showSignedIn(token);
  else showSignedOut();
  document.body.dataset.ready = 'true';
}

main();
