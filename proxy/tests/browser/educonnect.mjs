// A pupil's whole ÉduConnect login in headless Chromium, driven by proxy/tests/browser.rs:
// the protected page sends the browser to Vigie's login page, the pupil picks "Élève", then
// ÉduConnect (here the development SAML IdP), then a demo account; the IdP's page posts the
// Response to Vigie's ACS by itself (JavaScript), and the pupil lands on the page asked for.
// Then logs out (single logout through the IdP).
//
// Environment: VIGIE_BASE, SHOTS, VIGIE_PAGE (default /livret/eleve), CHROMIUM, as login.mjs.
// Prints one JSON line describing what it saw; any failure prints {"error": ...}, exits 1.
import { chromium } from 'playwright-core';

const base = process.env.VIGIE_BASE;
const shots = process.env.SHOTS;
const protectedPage = process.env.VIGIE_PAGE || '/livret/eleve';
const seen = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ locale: 'fr-FR', viewport: { width: 1024, height: 900 } });
  page.setDefaultTimeout(15000);

  await page.goto(`${base}${protectedPage}`);
  await page.getByRole('link', { name: /Élève/ }).click();
  await page.waitForURL(/profile=eleve/);
  seen.choices = await page.getByRole('link', { name: /ÉduConnect/ }).count();
  seen.franceconnectOffered = await page.getByRole('link', { name: /S'identifier avec/ }).count();
  await page.screenshot({ path: `${shots}/login-educonnect.png`, fullPage: true });

  await page.getByRole('link', { name: /ÉduConnect/ }).click();
  await page.waitForURL(/\/idp\/profile\/SAML2\/Redirect\/SSO/);
  await page.getByLabel(/Léa Martin/).check();
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${base}${protectedPage}`);
  const echo = await page.evaluate(async () => (await fetch(location.href, { headers: { Accept: 'application/json' } })).json());
  seen.profile = echo.headers['x-vigie-profile']?.[0];
  seen.school = echo.headers['x-vigie-school-ids']?.[0];
  seen.cookies = (await page.context().cookies()).map((c) => ({ name: c.name, sameSite: c.sameSite }));

  await page.goto(`${base}/vigie/logout`);
  await page.getByRole('button', { name: /Me déconnecter/ }).click();
  await page.waitForURL(/\/vigie\/saml\/educonnect\/slo/);
  seen.loggedOut = (await page.locator('p.chapo, p').first().innerText()).trim();
  seen.loggedOutHeading = (await page.locator('h1').first().innerText()).trim();
  await page.goto(`${base}${protectedPage}`);
  seen.afterLogout = new URL(page.url()).pathname;
  process.stdout.write(`${JSON.stringify(seen)}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: String(e && e.message || e), seen })}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
