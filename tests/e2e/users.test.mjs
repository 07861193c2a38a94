// Users and API tokens, end to end against a real engine: an administrator adds a user with a
// role, changes it, resets the password (the user's tokens go), lists and revokes their tokens,
// removes them; the engine's refusals (removing oneself, demoting the last admin) show in the
// dialog. Every user lists and revokes their own tokens and creates one, whose secret is shown
// once, works, and is never shown again. A viewer has no Users page in the navigation, and the
// page says it is for admins when opened by its address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login, screenshot, startEngine } from './harness.mjs';

// GET /me with a token: the HTTP status.
async function meWith(engine, token) {
  return (await fetch(`${engine.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).status;
}
async function loginApi(engine, username, password) {
  const res = await fetch(`${engine.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password, token_name: 'carol-script' }),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

test('users: add, change role, reset password, tokens, remove; the engine refusals in the dialog', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  t.after(async () => {
    await screenshot(page, 'users-last').catch(() => {});
  });
  await login(page, engine);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Users' }).click();
  await page.waitForURL('**/users');
  const table = page.getByRole('grid', { name: 'Users' });
  const row = (name) => table.getByRole('row').filter({ has: page.getByRole('gridcell', { name: new RegExp(`^${name}\\b`) }) });
  await row('admin').getByText('you', { exact: true }).waitFor();
  const menu = async (name, item) => {
    await page.getByRole('button', { name: `Actions for ${name}` }).click();
    await page.getByRole('menuitem', { name: item }).click();
  };

  // --- The engine's refusals stay in their dialogs: the only admin cannot stop being one, nor
  // can anyone remove themself.
  await menu('admin', 'Change role');
  let dialog = page.getByRole('dialog', { name: 'Change the role of admin' });
  await dialog.getByLabel('Role').selectOption('viewer');
  await dialog.getByRole('button', { name: 'Change role' }).click();
  await dialog.getByText("'admin' is the only administrator; make another user admin first").waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  await menu('admin', 'Remove');
  dialog = page.getByRole('dialog', { name: 'Remove user admin?' });
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.getByText('you cannot delete yourself').waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await engine.api('GET', '/me')).role, 'admin');

  // --- Add a user: the form wants a long enough password, typed twice.
  await page.getByRole('button', { name: 'Add user' }).click();
  dialog = page.getByRole('dialog', { name: 'Add user' });
  await dialog.getByRole('textbox', { name: 'Name' }).fill('carol');
  await dialog.getByLabel(/^Password/).fill('short');
  await dialog.getByLabel(/^Repeat the password/).fill('short');
  const add = dialog.getByRole('button', { name: 'Add', exact: true });
  assert.equal(await add.isDisabled(), true, 'a short password is not sent');
  await dialog.getByLabel(/^Password/).fill('carol-first-password');
  await dialog.getByLabel(/^Repeat the password/).fill('carol-first-password');
  await dialog.getByLabel('Role').selectOption('operator');
  await dialog.getByText('An operator also starts, stops').waitFor();
  await add.click();
  await dialog.waitFor({ state: 'detached' });
  await row('carol').getByText('operator', { exact: true }).waitFor();
  const carol = (await engine.api('GET', '/users')).items.find((u) => u.name === 'carol');
  assert.equal(carol.role, 'operator');
  // A second carol: the engine's words, in the dialog.
  await page.getByRole('button', { name: 'Add user' }).click();
  dialog = page.getByRole('dialog', { name: 'Add user' });
  await dialog.getByRole('textbox', { name: 'Name' }).fill('carol');
  await dialog.getByLabel(/^Password/).fill('another-long-password');
  await dialog.getByLabel(/^Repeat the password/).fill('another-long-password');
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.getByText("a user named 'carol' already exists").waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await screenshot(page, 'users');

  // --- Change her role.
  await menu('carol', 'Change role');
  dialog = page.getByRole('dialog', { name: 'Change the role of carol' });
  await dialog.getByLabel('Role').selectOption('admin');
  await dialog.getByRole('button', { name: 'Change role' }).click();
  await dialog.waitFor({ state: 'detached' });
  await row('carol').getByText('admin', { exact: true }).waitFor();
  assert.equal((await engine.api('GET', `/users`)).items.find((u) => u.name === 'carol').role, 'admin');

  // --- Her tokens: she logs in from a script; the admin sees the token and revokes them all.
  const first = await loginApi(engine, 'carol', 'carol-first-password');
  assert.equal(first.status, 200);
  await menu('carol', 'Tokens');
  dialog = page.getByRole('dialog', { name: 'Tokens of carol' });
  await dialog.getByRole('gridcell', { name: 'carol-script' }).waitFor();
  await dialog.getByRole('button', { name: 'Revoke all' }).click();
  await dialog.getByText('carol has no token').waitFor();
  assert.equal(await meWith(engine, first.json.token), 401);
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();

  // --- Reset her password: the old one no longer logs in, the new one does.
  const second = await loginApi(engine, 'carol', 'carol-first-password');
  await menu('carol', 'Reset password');
  dialog = page.getByRole('dialog', { name: 'Reset the password of carol' });
  await dialog.getByText('Every token of carol is revoked').waitFor();
  await dialog.getByLabel(/^Password/).fill('carol-second-password');
  await dialog.getByLabel(/^Repeat the password/).fill('carol-second-passwor');
  await dialog.getByText('The passwords differ.').waitFor();
  await dialog.getByLabel(/^Repeat the password/).fill('carol-second-password');
  await dialog.getByRole('button', { name: 'Reset password' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await meWith(engine, second.json.token), 401, 'the reset revoked her token');
  assert.equal((await loginApi(engine, 'carol', 'carol-first-password')).status, 401);
  assert.equal((await loginApi(engine, 'carol', 'carol-second-password')).status, 200);

  // --- Remove her.
  await menu('carol', 'Remove');
  dialog = page.getByRole('dialog', { name: 'Remove user carol?' });
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row('carol').waitFor({ state: 'detached' });
  assert.equal((await engine.api('GET', '/users')).items.some((u) => u.name === 'carol'), false);
  assert.deepEqual(consoleErrors, []);
});

test('API tokens: a viewer creates one (its secret shown once), uses it, revokes it; no Users page for them', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  await engine.api('POST', '/users', { name: 'vera', password: 'vera-viewer-password', role: 'viewer' });
  const { browser, context, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  t.after(async () => {
    await screenshot(page, 'tokens-last').catch(() => {});
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await login(page, { url: engine.url, username: 'vera', password: 'vera-viewer-password' });
  await page.locator('.georep-user').getByText('vera (viewer)', { exact: true }).waitFor();

  // --- No Users page for a viewer: not in the navigation; by its address, it says why.
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'API tokens' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
  await page.goto(`${engine.url}/users`);
  await page.getByRole('heading', { name: 'Admins only' }).waitFor();
  assert.equal(await page.getByRole('grid', { name: 'Users' }).count(), 0);

  // --- Her tokens: the console's own login is one, marked.
  await nav.getByRole('link', { name: 'API tokens' }).click();
  const table = page.getByRole('grid', { name: 'API tokens' });
  const consoleRow = table.getByRole('row').filter({ hasText: 'web-console' });
  await consoleRow.getByText('this console').waitFor();

  // --- Create one: the secret is shown once, with a copy button and the warning.
  await page.getByRole('button', { name: 'Create token' }).click();
  let dialog = page.getByRole('dialog', { name: 'Create token' });
  // A name the engine refuses: its words, in the dialog, which keeps what was typed.
  await dialog.getByRole('textbox', { name: 'Name' }).fill('backup script');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByText("invalid token name 'backup script'").waitFor();
  await dialog.getByRole('textbox', { name: 'Name' }).fill('backup-script');
  await dialog.getByLabel('Lifetime').selectOption({ label: '7 days' });
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Token backup-script created' });
  await dialog.getByText('Copy the token now: it will not be shown again.').waitFor();
  const secret = await dialog.getByRole('textbox', { name: 'Token secret' }).inputValue();
  assert.match(secret, /^grp_/);
  await dialog.getByRole('button', { name: /^Copy the token/ }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await screenshot(page, 'token-created');
  assert.equal(await meWith(engine, secret), 200, 'the secret works');
  const issued = (await (await fetch(`${engine.url}/api/v1/tokens`, { headers: { Authorization: `Bearer ${secret}` } })).json())
    .items.find((x) => x.name === 'backup-script');
  const days = (new Date(issued.expires_at) - new Date(issued.created_at)) / 86400000;
  assert.ok(Math.abs(days - 7) < 0.01, `a 7-day token: ${days}`);
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  // Listed, and the secret is nowhere on the page any more.
  const row = table.getByRole('row').filter({ hasText: 'backup-script' });
  await row.waitFor();
  assert.equal(await page.getByText(secret).count(), 0);
  assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');

  // --- Revoke it: it stops working.
  await row.getByRole('button', { name: 'Revoke backup-script' }).click();
  dialog = page.getByRole('dialog', { name: 'Revoke token backup-script?' });
  await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.waitFor({ state: 'detached' });
  assert.equal(await meWith(engine, secret), 401);

  // --- Revoking the console's own token logs it out, as it warns.
  await consoleRow.getByRole('button', { name: 'Revoke web-console' }).click();
  dialog = page.getByRole('dialog', { name: 'Revoke token web-console?' });
  await dialog.getByText('revoking it logs you out').waitFor();
  await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('georep.token')), null);
  assert.deepEqual(consoleErrors, []);
});
