// Shared by check-reports.mjs and screenshot.mjs: finds playwright-core and
// launches the system's Chromium the same way every time. Never downloads a
// browser: playwright-core has no browser of its own, and the executable is
// given explicitly.
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const pin = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies['playwright-core'];

// scripts/test installs the pinned package into target/ci-tools/ (nothing
// global); a plain `npm ci` here works too.
function loadPlaywright() {
  const candidates = [
    process.env.PLAYWRIGHT_CORE_PREFIX,
    join(repo, 'target', 'ci-tools', `playwright-core-${pin}`),
    here,
  ].filter(Boolean);
  for (const prefix of candidates) {
    const pkg = join(prefix, 'node_modules', 'playwright-core', 'package.json');
    if (!existsSync(pkg)) continue;
    const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
    if (version !== pin) {
      throw new Error(`playwright-core ${version} in ${prefix}, but package.json pins ${pin}`);
    }
    return createRequire(join(prefix, 'package.json'))('playwright-core');
  }
  throw new Error(
    `playwright-core ${pin} is not installed; run scripts/test, or ` +
      `npm ci --prefix target/ci-tools/playwright-core-${pin} after copying tests/browser/package*.json there`,
  );
}

export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
  }
  const { chromium } = loadPlaywright();
  const profile = mkdtempSync(join(tmpdir(), 'ccp-report-chromium-'));
  // A fresh profile every run (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 1600 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
