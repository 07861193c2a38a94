// The console is served by georep serve; a user logs in (a wrong password is refused in the
// operator's words), sees the live indicator, and logs out (the token is revoked).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectAccessible, launchBrowser, login, screenshot, startEngine } from './harness.mjs';

test('login screen, a wrong password, then the console', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  await page.goto(`${engine.url}/`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByText(/invalid|incorrect|wrong/i).first().waitFor();
  await screenshot(page, 'login');
  await expectAccessible(page, 'login');

  await login(page, engine);
  await page.getByRole('link', { name: 'Clusters', exact: true }).waitFor();
  await page.getByText('Live', { exact: true }).waitFor();

  // Log out: the console's token is revoked in the engine, not just forgotten by the page.
  const token = await page.evaluate(() => sessionStorage.getItem('georep.token'));
  assert.ok(token);
  const me = await fetch(`${engine.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('georep.token')), null);
  const after = await fetch(`${engine.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(after.status, 401);
  assert.deepEqual(consoleErrors, []);
});
