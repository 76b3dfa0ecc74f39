// What the portal's browser tests do in a page: open one, submit a form, sign staff in, and check
// the page shown (a screenshot saved as an artifact, axe-core finding no serious or critical
// accessibility violation).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { screenshotDir } from './portal';

/** A page in a browser context of its own (its own cookies), desk-sized. */
export async function openPage(browser: Browser): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  // axe-core is injected as a script of the test: the portal's content security policy allows only its own.
  await page.setBypassCSP(true);
  await page.setViewport({ width: 1200, height: 900 });
  return page;
}

/** Clicks `selector` and waits for the navigation it starts: the HTTP status of the new page. */
export async function submit(page: Page, selector: string): Promise<number> {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response?.status() ?? 0;
}

/** Signs a staff account in through the login form; the sign-in must succeed. */
export async function signInStaff(page: Page, portalUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${portalUrl}/login`);
  await page.type('#username', username);
  await page.type('#password', password);
  assert.equal(await submit(page, '#staff-login'), 200, `${username} signs in`);
}

const axe_source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Screenshot and accessibility check of the page shown now. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshotDir(), `${name}.png`), fullPage: true });
  await page.addScriptTag({ content: axe_source });
  const violations = (await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }
    ).axe;
    return (await axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  })) as { id: string; impact: string; nodes: number }[];
  const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(severe, [], `${name}: serious or critical accessibility violations`);
}

/** The text of the page's body. */
export const pageText = (page: Page): Promise<string> => page.$eval('body', (body) => body.textContent ?? '');
