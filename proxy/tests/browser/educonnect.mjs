// A pupil's whole ÉduConnect login in headless Chromium, driven by proxy/tests/browser.rs:
// the protected page sends the browser to Vigie's login page, the pupil picks "Élève", then
// ÉduConnect (here the development SAML IdP), then a demo account; the IdP's page posts the
// Response to Vigie's ACS by itself (JavaScript), and the pupil lands on the page asked for.
// Then logs out (single logout through the IdP).
//
// Environment: VIGIE_BASE, SHOTS, VIGIE_PAGE (default /livret/eleve), CHROMIUM, as login.mjs.
// Prints one JSON line describing what it saw; any failure prints {"error": ...}, exits 1.
import { inChromium } from './common.mjs';

const base = process.env.VIGIE_BASE;
const shots = process.env.SHOTS;
const protectedPage = process.env.VIGIE_PAGE || '/livret/eleve';

await inChromium(async (page, seen) => {
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
});
