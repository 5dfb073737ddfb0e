// Writes a PNG of a report page: node screenshot.mjs REPORT.html OUT.png
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { launch } from './browser.mjs';

const [report, png] = process.argv.slice(2);
if (!report || !png) {
  console.error('usage: node screenshot.mjs REPORT.html OUT.png');
  process.exit(2);
}
const { context, close } = await launch();
try {
  // A laptop-sized window; the picture covers the top of the page (the
  // summary and the first calls), which is what a reader sees first.
  const page = await context.newPage();
  await page.goto(pathToFileURL(resolve(report)).href);
  await page.screenshot({ path: png, fullPage: false });
} finally {
  await close();
}
