// The Notifications page, end to end against a real engine and a webhook receiver in this test:
// an admin adds a webhook notifier (its signing secret shown once), sends a test through it --
// the receiver gets it signed with that secret, the page says it was delivered and the delivery
// history lists it -- disables and removes it, and changes an alert threshold and resets it.
// A viewer is not offered the page, and is told it is for admins when opening it by URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expectAccessible, launchBrowser, login, openMenu, screenshot, startEngine, startWebhookReceiver, webhookSignature,
} from './harness.mjs';

test('notifications: add a webhook, send a test, its delivery, disable, remove; thresholds; admins only', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  await login(page, engine);

  // Administration > Notifications.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications', exact: true }).click();
  await page.waitForURL('**/notifications');
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'No notifiers' }).waitFor();
  const thresholds = page.getByRole('grid', { name: 'Alert thresholds' });
  const lagRow = thresholds.getByRole('row').filter({ hasText: 'alert-lag-threshold' });
  await lagRow.getByText('900 s', { exact: true }).first().waitFor();
  assert.equal(await thresholds.getByRole('row').filter({ hasText: 'alert-disk-usage' }).getByRole('gridcell', { name: '90 %', exact: true }).count(), 1);
  assert.equal(await thresholds.getByRole('row').count(), 4); // the header and three settings
  await expectAccessible(page, 'notifications-empty');

  // Add: the form checks what it can as the user types.
  await page.getByRole('button', { name: 'Add notifier', exact: true }).click();
  let dialog = page.getByRole('dialog', { name: 'Add notifier', exact: true });
  const add = dialog.getByRole('button', { name: 'Add', exact: true });
  await dialog.getByLabel('Name').fill('ops hook!');
  await dialog.locator('#notifier-name-helper').getByText('Only letters, digits, “.”, “-” and “_”.').waitFor();
  await dialog.getByLabel('Name').fill('ops-hook');
  await dialog.getByLabel('URL').fill('ftp://example.org/hook');
  await dialog.locator('#notifier-url-helper').getByText(/^http:\/\/HOST\[:PORT\]\/PATH or https:/).waitFor();
  assert.equal(await dialog.getByLabel('URL').getAttribute('aria-invalid'), 'true');
  assert.equal(await add.isDisabled(), true);
  // E-mail asks for a server, a sender and recipients, each checked.
  await dialog.getByLabel('Kind').selectOption('email');
  await dialog.getByLabel('SMTP server').fill('smtps://mail.example.org:465');
  await dialog.getByRole('textbox', { name: 'From', exact: true }).fill('georep@example.org');
  await dialog.getByRole('textbox', { name: 'To', exact: true }).fill('ops@example.org, oncall');
  await dialog.locator('#notifier-to-helper').getByText('“oncall” is not an e-mail address.').waitFor();
  assert.equal(await add.isDisabled(), true);
  await expectAccessible(page, 'add-notifier-email');
  await dialog.getByLabel('Kind').selectOption('webhook');
  await dialog.getByLabel('URL').fill(receiver.url);
  await dialog.getByLabel('Minimum severity').selectOption('critical');
  await add.click();

  // The secret, shown once.
  dialog = page.getByRole('dialog', { name: 'Notifier ops-hook added', exact: true });
  await dialog.getByText('Copy the signing secret now: it will not be shown again.').waitFor();
  const secret = await dialog.getByRole('textbox', { name: 'Signing secret', exact: true }).inputValue();
  assert.ok(secret.length >= 32, secret);
  await screenshot(page, 'notifier-secret');
  await expectAccessible(page, 'notifier-secret');
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  const [stored] = (await engine.api('GET', '/notifiers')).items;
  assert.equal(stored.name, 'ops-hook');
  assert.equal(stored.url, receiver.url);
  assert.equal(stored.min_severity, 'critical');
  assert.equal(stored.send_resolved, true);
  assert.equal(stored.secret, undefined);

  const table = page.getByRole('grid', { name: 'Notifiers' });
  const row = table.getByRole('row').filter({ hasText: 'ops-hook' });
  await row.getByText('Enabled', { exact: true }).waitFor();
  assert.equal(await row.getByRole('gridcell', { name: 'Webhook', exact: true }).count(), 1);
  assert.equal(await row.getByRole('gridcell', { name: receiver.url, exact: true }).count(), 1);
  assert.equal(await row.getByRole('gridcell', { name: 'critical', exact: true }).count(), 1);
  const actions = row.getByRole('button', { name: 'Actions for ops-hook', exact: true });

  // Send test: the receiver gets a POST signed with the secret shown; the page says delivered.
  await (await openMenu(page, actions, /^Send test$/)).click();
  const hook = await receiver.next((j) => j.event === 'test');
  assert.equal(hook.method, 'POST');
  assert.equal(hook.headers['x-georep-event'], 'test');
  assert.match(hook.headers['x-georep-signature'], /^sha256=[0-9a-f]{64}$/);
  assert.equal(hook.headers['x-georep-signature'], webhookSignature(secret, hook));
  await page.getByText('Test message delivered through ops-hook').waitFor();
  await page.getByText('The receiver answered HTTP 204.').waitFor();

  // Its delivery history.
  await (await openMenu(page, actions, /^Delivery history$/)).click();
  dialog = page.getByRole('dialog', { name: 'Delivery history of ops-hook', exact: true });
  const deliveries = dialog.getByRole('grid', { name: 'Deliveries of ops-hook' });
  const delivery = deliveries.getByRole('row').filter({ hasText: 'Test message' });
  await delivery.getByText('Delivered', { exact: true }).waitFor();
  await delivery.getByText('HTTP 204', { exact: true }).waitFor();
  assert.equal(await delivery.getByRole('gridcell', { name: '1', exact: true }).count(), 1); // attempts
  const [sent] = (await engine.api('GET', `/notifiers/${stored.id}/deliveries`)).items;
  assert.equal(sent.state, 'delivered');
  assert.equal(await delivery.locator('time').first().getAttribute('datetime'), new Date(sent.last_attempt_at).toISOString());
  await screenshot(page, 'notifier-deliveries');
  await expectAccessible(page, 'notifier-deliveries');
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  // Disable, then enable.
  await (await openMenu(page, actions, /^Disable$/)).click();
  await row.getByText('Disabled', { exact: true }).waitFor();
  assert.equal((await engine.api('GET', `/notifiers/${stored.id}`)).enabled, false);
  await screenshot(page, 'notifications');
  await expectAccessible(page, 'notifications');
  await (await openMenu(page, actions, /^Enable$/)).click();
  await row.getByText('Enabled', { exact: true }).waitFor();
  assert.equal((await engine.api('GET', `/notifiers/${stored.id}`)).enabled, true);

  // A threshold changed (checked against its range first), then reset.
  await (await openMenu(page, lagRow.getByRole('button', { name: 'Actions for alert-lag-threshold', exact: true }), /^Change$/)).click();
  dialog = page.getByRole('dialog', { name: 'Change alert-lag-threshold', exact: true });
  const value = dialog.getByRole('textbox', { name: 'Value' });
  const save = dialog.getByRole('button', { name: 'Save', exact: true });
  await value.fill('-5');
  await dialog.locator('#setting-value-helper').getByText('From 0 to 2592000.').waitFor();
  assert.equal(await save.isDisabled(), true);
  await expectAccessible(page, 'change-setting');
  await value.fill('120');
  await save.click();
  await dialog.waitFor({ state: 'detached' });
  await lagRow.getByRole('gridcell', { name: '120 s', exact: true }).waitFor();
  const changed = (await engine.api('GET', '/settings')).items.find((s) => s.key === 'alert-lag-threshold');
  assert.equal(changed.value, 120);
  assert.equal(changed.is_default, false);
  assert.equal(changed.changed_by, 'admin');
  await lagRow.getByText(/^admin,/).waitFor();
  await (await openMenu(page, lagRow.getByRole('button', { name: 'Actions for alert-lag-threshold', exact: true }), /^Reset to default$/)).click();
  dialog = page.getByRole('dialog', { name: 'Reset alert-lag-threshold?' });
  await dialog.getByRole('button', { name: 'Reset', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await lagRow.getByText('default', { exact: true }).waitFor();
  const reset = (await engine.api('GET', '/settings')).items.find((s) => s.key === 'alert-lag-threshold');
  assert.equal(reset.value, 900);
  assert.equal(reset.is_default, true);

  // Remove, confirmed.
  await (await openMenu(page, actions, /^Remove$/)).click();
  dialog = page.getByRole('dialog', { name: 'Remove notifier ops-hook?' });
  await expectAccessible(page, 'remove-notifier');
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('heading', { name: 'No notifiers' }).waitFor();
  assert.equal(await table.count(), 0);
  assert.deepEqual((await engine.api('GET', '/notifiers')).items, []);
  assert.deepEqual(consoleErrors, []);

  // A viewer: no Notifications in the navigation; by URL, the page says it is for admins.
  const viewer = { url: engine.url, username: 'vera', password: 'a viewer password' };
  await engine.api('POST', '/users', { name: viewer.username, password: viewer.password, role: 'viewer' });
  const other = await launchBrowser();
  t.after(() => other.browser.close());
  await login(other.page, viewer);
  const nav = other.page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'API tokens', exact: true }).waitFor();
  await other.page.getByText('vera (viewer)', { exact: true }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Notifications', exact: true }).count(), 0);
  await other.page.goto(`${engine.url}/notifications`);
  await other.page.getByRole('heading', { name: 'Admins only' }).waitFor();
  assert.equal(await other.page.getByRole('button', { name: 'Add notifier', exact: true }).count(), 0);
  await expectAccessible(other.page, 'notifications-viewer');
  assert.deepEqual(other.consoleErrors, []);
});
