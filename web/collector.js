// ccp-disconnect collector for custom CCPs built with amazon-connect-streams.
//
// When a contact ends, uploads the CCP's log (the same JSON array the CCP's
// "Download logs" writes) to ccp-disconnect's upload API, so that the verdict
// is ready before the agent closes the window (which loses the log).
//
//   import { startCollector } from 'https://<api>/collector.js';
//   startCollector({ connect, apiBase: 'https://<api>', getToken: async () => myIdToken() });
//
// A classic (non-module) script can load it with a dynamic import():
//   import('https://<api>/collector.js').then((m) => m.startCollector({ ... }));
//
// Dependency-free; no global is defined. Behaviour (docs/upload-collector.md):
// - debounced: contact ends within `debounceMs` of each other give one upload
//   (the log holds every contact, so the last upload covers them all);
// - bounded: one upload in flight at a time; the log is cut to its newest
//   entries so that it fits the server's `max_bytes`;
// - never blocks the agent's UI: everything is asynchronous (fetch, timers);
// - retries with exponential backoff and jitter, `maxAttempts` times; then
//   logs an error and tries again on the next contact end (the log still
//   holds the entries: nothing is dropped silently).

const DEFAULTS = {
  debounceMs: 3000,
  // A contact ending every few seconds for a long time (an outbound
  // campaign) must still upload now and then.
  maxWaitMs: 30000,
  maxAttempts: 4,
  retryBaseMs: 2000,
  retryMaxMs: 60000,
  fileName: 'agent-log.txt',
  // Logger.download({ filterByLogLevel }) in amazon-connect-streams: off by default.
  filterByLogLevel: false,
};

const TAG = 'ccp-disconnect collector:';

// amazon-connect-streams' LogLevelOrder (src/log.js), for filterByLogLevel.
const LEVEL_ORDER = { TEST: 0, TRACE: 10, DEBUG: 20, INFO: 30, LOG: 40, WARN: 50, ERROR: 100, CRITICAL: 200 };

class UploadError extends Error {
  constructor(message, { retryable = true, status = 0 } = {}) {
    super(message);
    this.retryable = retryable;
    this.status = status;
  }
}

/**
 * The entries "Download logs" would write, in its order: rolled logs, then
 * the current ones (amazon-connect-streams src/log.js,
 * `Logger.prototype.download`: `this._rolledLogs.concat(this._logs)`,
 * filtered by `_logLevel` only when `filterByLogLevel` is set). Streams has
 * no public accessor for them; these two fields are what download() reads.
 */
export function logEntries(logger, filterByLogLevel = false) {
  const rolled = logger && logger._rolledLogs;
  const current = logger && logger._logs;
  if (!Array.isArray(rolled) || !Array.isArray(current)) {
    throw new UploadError(
      'connect.getLog() has no _rolledLogs/_logs arrays: this amazon-connect-streams version is not supported',
      { retryable: false },
    );
  }
  let logs = rolled.concat(current);
  if (filterByLogLevel) {
    const min = logger._logLevel;
    logs = logs.filter((entry) => LEVEL_ORDER[entry.level] >= min);
  }
  return logs;
}

/**
 * `entries` serialized exactly as download() does (`JSON.stringify(logs,
 * undefined, 4)`), keeping the newest entries that fit in `maxBytes` UTF-8
 * bytes. Returns the text and how many of the oldest entries were left out.
 */
export function serializeLog(entries, maxBytes) {
  const encoder = new TextEncoder();
  const size = (from) => encoder.encode(JSON.stringify(entries.slice(from), undefined, 4)).length;
  if (!(maxBytes > 0) || size(0) <= maxBytes) {
    return { text: JSON.stringify(entries, undefined, 4), dropped: 0 };
  }
  // The smallest start index whose tail fits (size only shrinks as the start
  // moves on): a binary search, O(log n) serializations.
  let lo = 1;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (size(mid) <= maxBytes) hi = mid;
    else lo = mid + 1;
  }
  return { text: JSON.stringify(entries.slice(lo), undefined, 4), dropped: lo };
}

/**
 * Starts collecting. Options:
 * - `connect`: the amazon-connect-streams global (default `globalThis.connect`);
 * - `apiBase`: the upload API's origin, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`;
 * - `getToken`: `() => string | Promise<string>`, the signed-in agent's ID token;
 * - `maxBytes`: the cap (default: the API's `/config.json` `max_bytes`);
 * - `debounceMs`, `maxWaitMs`, `maxAttempts`, `retryBaseMs`, `retryMaxMs`,
 *   `fileName`, `filterByLogLevel`: see DEFAULTS;
 * - `onUpload(key)`: called after each successful upload with its S3 key;
 * - `fetch`, `console`: for tests.
 *
 * Returns `{ flush, stop }`: `flush()` uploads now (skipping the debounce)
 * and resolves when that upload is done; `stop()` stops listening.
 */
export function startCollector(options) {
  const opts = { ...DEFAULTS, ...options };
  const connect = opts.connect || globalThis.connect;
  const log = opts.console || globalThis.console;
  const fetchFn = opts.fetch || globalThis.fetch.bind(globalThis);
  if (!connect || typeof connect.contact !== 'function' || typeof connect.getLog !== 'function') {
    throw new TypeError(`${TAG} options.connect must be the amazon-connect-streams "connect" object`);
  }
  if (typeof opts.apiBase !== 'string' || !/^https?:\/\//.test(opts.apiBase)) {
    throw new TypeError(`${TAG} options.apiBase must be the upload API's https:// origin`);
  }
  if (typeof opts.getToken !== 'function') {
    throw new TypeError(`${TAG} options.getToken must be a function returning the ID token`);
  }
  const apiBase = opts.apiBase.replace(/\/+$/, '');

  let stopped = false;
  let debounceTimer = null;
  let firstEndAt = 0;
  let inFlight = null; // the running upload (a promise), at most one
  let again = false; // a contact ended while an upload ran: one more after it
  let maxBytes = opts.maxBytes > 0 ? opts.maxBytes : null;

  async function serverMaxBytes() {
    if (maxBytes) return maxBytes;
    const resp = await fetchFn(`${apiBase}/config.json`, { cache: 'no-store', credentials: 'omit' });
    if (!resp.ok) throw new UploadError(`config.json answered ${resp.status}`);
    const config = await resp.json();
    if (!(config.max_bytes > 0)) throw new UploadError('config.json has no max_bytes');
    maxBytes = config.max_bytes;
    return maxBytes;
  }

  async function uploadOnce() {
    const cap = await serverMaxBytes();
    // Read the log now (not when the contact ended): it has everything up to
    // this moment, the ended contacts included.
    const { text, dropped } = serializeLog(logEntries(connect.getLog(), opts.filterByLogLevel), cap);
    if (dropped > 0) {
      log.warn(`${TAG} the log is larger than the server's limit; the oldest ${dropped} entries are left out`);
    }
    const body = new Blob([text], { type: 'text/plain' });
    const token = await opts.getToken();
    if (!token) throw new UploadError('getToken() returned no token (not signed in?)', { retryable: false });

    let resp;
    try {
      resp = await fetchFn(`${apiBase}/api/uploads`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ file_name: opts.fileName, size: body.size, content_type: 'text/plain' }),
        credentials: 'omit',
      });
    } catch (e) {
      throw new UploadError(`network error asking for an upload URL (${e.message})`);
    }
    const grant = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      // 401/403/413 will not change by retrying now; 429 and 5xx may.
      const retryable = resp.status === 429 || resp.status >= 500;
      throw new UploadError(`the upload API answered ${resp.status}: ${grant.message || grant.error || 'no details'}`, {
        retryable,
        status: resp.status,
      });
    }

    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
    form.append('file', body, opts.fileName);
    let s3;
    try {
      s3 = await fetchFn(grant.url, { method: 'POST', body: form, credentials: 'omit' });
    } catch (e) {
      throw new UploadError(`network error uploading to S3 (${e.message})`);
    }
    if (!s3.ok) {
      const detail = (await s3.text().catch(() => '')).match(/<Code>([^<]*)<\/Code>/);
      throw new UploadError(`S3 refused the upload (${s3.status}${detail ? ` ${detail[1]}` : ''})`, {
        status: s3.status,
      });
    }
    return grant.key;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function uploadWithRetries() {
    for (let attempt = 1; ; attempt++) {
      try {
        const key = await uploadOnce();
        if (typeof opts.onUpload === 'function') {
          try {
            opts.onUpload(key);
          } catch (e) {
            log.warn(`${TAG} onUpload threw`, e);
          }
        }
        return true;
      } catch (err) {
        const last = attempt >= opts.maxAttempts || !err.retryable || stopped;
        if (last) {
          log.error(
            `${TAG} upload failed (attempt ${attempt} of ${opts.maxAttempts}): ${err.message}. ` +
              'It will be tried again when the next contact ends.',
          );
          return false;
        }
        // Exponential backoff with full jitter (AWS Architecture Blog,
        // "Exponential Backoff And Jitter"), capped.
        const ceiling = Math.min(opts.retryMaxMs, opts.retryBaseMs * 2 ** (attempt - 1));
        const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
        log.warn(`${TAG} upload failed (attempt ${attempt} of ${opts.maxAttempts}): ${err.message}; retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  function run() {
    debounceTimer = null;
    firstEndAt = 0;
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = uploadWithRetries().finally(() => {
      inFlight = null;
      if (again && !stopped) {
        again = false;
        schedule();
      }
    });
    return inFlight;
  }

  function schedule() {
    if (stopped) return;
    const now = Date.now();
    if (!firstEndAt) firstEndAt = now;
    if (debounceTimer) clearTimeout(debounceTimer);
    const wait = Math.max(0, Math.min(opts.debounceMs, firstEndAt + opts.maxWaitMs - now));
    debounceTimer = setTimeout(run, wait);
  }

  const subscribed = new WeakSet();
  connect.contact((contact) => {
    // connect.contact() calls back once per contact; guard anyway so that a
    // contact object seen twice does not double its uploads.
    if (subscribed.has(contact)) return;
    subscribed.add(contact);
    contact.onEnded(() => schedule());
  });

  return {
    flush() {
      if (debounceTimer) clearTimeout(debounceTimer);
      return run();
    },
    stop() {
      stopped = true;
      if (debounceTimer) clearTimeout(debounceTimer);
      debounceTimer = null;
    },
  };
}
