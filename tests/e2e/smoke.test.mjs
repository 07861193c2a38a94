// The console is served by georep serve, and a user can log in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login, screenshot, startEngine } from './harness.mjs';

test('login screen, a wrong password, then the console', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  await page.goto(`${engine.url}/`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(/invalid|incorrect|wrong/i).first().waitFor();
  await screenshot(page, 'login');

  await login(page, engine);
  await page.getByRole('link', { name: 'Clusters' }).waitFor();
  await page.getByText('Live', { exact: true }).waitFor();
  assert.deepEqual(consoleErrors, []);
});
