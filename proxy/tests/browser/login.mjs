// One whole login in headless Chromium, as a legal guardian would do it, driven by
// proxy/tests/browser.rs: the protected page sends the browser to Vigie's login page, the
// person picks "Représentant légal", then FranceConnect (here the development provider),
// then a demo parent, and lands on the page asked for; then logs out.
//
// Environment: VIGIE_BASE (http://127.0.0.1:PORT), SHOTS (a folder for the screenshots),
// VIGIE_PAGE (the protected page, default /livret/eleve), CHROMIUM (default
// /usr/bin/chromium, see common.mjs). Prints one JSON line describing what it saw; any
// failure prints {"error": ...} and exits 1.
import { inChromium } from './common.mjs';

const base = process.env.VIGIE_BASE;
const shots = process.env.SHOTS;
const protectedPage = process.env.VIGIE_PAGE || '/livret/eleve';

await inChromium(async (page, seen) => {
  await page.goto(`${base}${protectedPage}`);
  seen.loginUrl = new URL(page.url()).pathname;
  seen.lang = await page.getAttribute('html', 'lang');
  seen.heading = (await page.locator('h1').first().innerText()).trim();
  await page.screenshot({ path: `${shots}/login-profil.png`, fullPage: true });

  await page.getByRole('link', { name: /Représentant légal/ }).click();
  await page.waitForURL(/profile=responsable/);
  seen.whatIsFc = await page.getByRole('link', { name: /Qu'est-ce que FranceConnect/ }).count();
  await page.screenshot({ path: `${shots}/login-franceconnect.png`, fullPage: true });

  await page.getByRole('link', { name: /S'identifier avec/ }).click();
  await page.waitForURL(/\/authorize/);
  await page.getByLabel(/Moussa Diallo/).check();
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}${protectedPage}`);
  seen.pageTitle = await page.title();
  // The demo upstream shows browsers a page; its JSON echo says what it received.
  const echo = await page.evaluate(async () => (await fetch(location.href, { headers: { Accept: 'application/json' } })).json());
  seen.subject = echo.headers['x-vigie-subject']?.[0];
  seen.cookies = (await page.context().cookies()).map((c) => ({ name: c.name, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite }));

  await page.goto(`${base}/vigie/logout`);
  await page.getByRole('button', { name: /Me déconnecter/ }).click();
  await page.waitForURL(/\/vigie\/logged-out/);
  seen.loggedOut = (await page.locator('h1').first().innerText()).trim();
  await page.goto(`${base}${protectedPage}`);
  seen.afterLogout = new URL(page.url()).pathname;
});
