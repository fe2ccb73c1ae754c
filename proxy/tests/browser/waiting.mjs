// A parent meets the waiting room in headless Chromium, driven by proxy/tests/browser.rs:
// the login start answers the waiting page (the test spent the provider's burst and queued
// two tickets just before),
// which announces the position in a status region and reloads itself until the turn comes,
// then carries the browser to the provider; the parent logs in and lands on the page asked
// for. Nothing is clicked while waiting.
//
// Environment: VIGIE_BASE, SHOTS, VIGIE_PAGE (default /livret/eleve), CHROMIUM.
import { inChromium } from './common.mjs';

const base = process.env.VIGIE_BASE;
const shots = process.env.SHOTS;
const protectedPage = process.env.VIGIE_PAGE || '/livret/eleve';

await inChromium(async (page, seen) => {
  await page.goto(`${base}/vigie/login/franceconnect?return_to=${encodeURIComponent(protectedPage)}`);
  seen.heading = (await page.locator('h1').first().innerText()).trim();
  seen.lang = await page.getAttribute('html', 'lang');
  seen.status = (await page.getByRole('status').innerText()).replace(/\s+/g, ' ').trim();
  seen.reloadLink = await page.getByRole('link', { name: 'Actualiser maintenant' }).count();
  seen.ticket = (await page.context().cookies()).some((c) => c.name === '__Host-vigie_wait');
  await page.screenshot({ path: `${shots}/waiting-room.png`, fullPage: true });

  // The page reloads itself; the turn comes within seconds.
  const waitedFrom = Date.now();
  await page.waitForURL(/\/authorize/, { timeout: 20000 });
  seen.waitedMs = Date.now() - waitedFrom;
  seen.ticketAfter = (await page.context().cookies()).some((c) => c.name === '__Host-vigie_wait');
  await page.getByLabel(/Moussa Diallo/).check();
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}${protectedPage}`);
  seen.landed = new URL(page.url()).pathname;
});
