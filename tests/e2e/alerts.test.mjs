// Alerts in the console, end to end against a real engine: a destination that cannot take its
// session's replica (Test says Broken) fires the destination-broken alert; its webhook reaches a
// receiver in this test, signed; the masthead's badge counts it; the drawer lists it with the
// messages sent about it, and an admin acknowledges it there (the badge empties); the
// destination mended and tested again, the alert resolves and leaves the drawer -- all without
// a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  directorySetup, expectAccessible, launchBrowser, login, screenshot, startEngine, startWebhookReceiver, webhookSignature,
} from './harness.mjs';

test('an alert: webhook, badge, drawer, acknowledge, resolve', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const secret = 'e2e webhook secret, long enough';
  await engine.api('POST', '/notifiers', { name: 'e2e', url: receiver.url, secret });

  const setup = await directorySetup(engine, { volumes: ['source'] });
  const destId = setup.destination.id;
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  await login(page, engine);
  const badge = page.getByRole('button', { name: /^Alerts:/ });
  await page.getByRole('button', { name: 'Alerts: none firing', exact: true }).waitFor();

  // A session whose replica directory cannot be created; the destination's test says Broken.
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const stuck = await engine.api('POST', '/sessions', {
    destination_id: destId, source_volume_id: setup.volumes.source.id, destination_volume: path.join(blocker, 'replica'),
  });
  await engine.api('POST', `/destinations/${destId}/test`).catch(() => {});
  assert.equal((await engine.api('GET', `/destinations/${destId}`)).connection, 'Broken');

  // The webhook, signed over "<timestamp>.<body>".
  const hook = await receiver.next((j) => j.event === 'firing' && j.alert.rule === 'destination-broken');
  assert.equal(hook.headers['x-georep-signature'], webhookSignature(secret, hook));
  assert.equal(hook.json.alert.object_id, destId);
  assert.equal(hook.json.alert.severity, 'critical');

  // The badge counts it (without a reload); the drawer lists it.
  await page.getByRole('button', { name: 'Alerts: 1 firing, 1 not acknowledged, critical among them', exact: true }).waitFor();
  await badge.click();
  const drawer = page.getByRole('list', { name: 'Firing alerts' });
  const item = drawer.getByRole('listitem').filter({ hasText: 'destination-broken on localhost' });
  await item.waitFor();
  await item.getByText(/cannot be created/).first().waitFor();
  await screenshot(page, 'alert-drawer');
  await expectAccessible(page, 'alert-drawer');

  // What was sent about it: the webhook above, delivered, through the notifier named.
  await item.getByRole('button', { name: 'Messages sent about destination-broken on localhost', exact: true }).click();
  const sentDialog = page.getByRole('dialog', { name: 'Messages sent about destination-broken on localhost', exact: true });
  const sentRow = sentDialog.getByRole('grid', { name: 'Messages sent about the alert' }).getByRole('row')
    .filter({ hasText: `Alert ${hook.json.alert.id}: destination-broken on localhost (firing)` });
  await sentRow.getByText('Delivered', { exact: true }).waitFor();
  assert.equal(await sentRow.getByRole('gridcell', { name: 'e2e', exact: true }).count(), 1);
  await expectAccessible(page, 'alert-deliveries');
  await sentDialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await sentDialog.waitFor({ state: 'detached' });

  // Acknowledged from the drawer: kept there, marked, and no longer counted.
  await item.getByRole('button', { name: 'Acknowledge destination-broken on localhost', exact: true }).click();
  await item.getByText('Acknowledged by admin').waitFor();
  await page.getByRole('button', { name: 'Alerts: 1 firing, 0 not acknowledged', exact: true }).waitFor();
  const acked = await engine.api('GET', '/alerts?state=firing');
  assert.equal(acked.items[0].acknowledged_by, 'admin');

  // Mended: the stuck session gone, the destination tested again -- the alert resolves, its
  // end is sent, and the drawer empties.
  await engine.api('DELETE', `/sessions/${stuck.id}`);
  await engine.api('POST', `/destinations/${destId}/test`);
  const ended = await receiver.next((j) => j.event === 'resolved' && j.alert.id === hook.json.alert.id);
  assert.equal(ended.json.alert.state, 'resolved');
  await page.getByText('No alert is firing').waitFor();
  await page.getByRole('button', { name: 'Alerts: none firing', exact: true }).waitFor();
  assert.deepEqual(consoleErrors, []);
});
