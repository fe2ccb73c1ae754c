// What the browser scripts share: Chromium launched headless with quiet defaults, a French
// page, and the report (one JSON line of what was seen, or {"error": ...} and exit code 1).
//
// Environment: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

export async function inChromium(journey) {
  const seen = {};
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ locale: 'fr-FR', viewport: { width: 1024, height: 900 } });
    page.setDefaultTimeout(15000);
    await journey(page, seen);
    process.stdout.write(`${JSON.stringify(seen)}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: String(e && e.message || e), seen })}\n`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
