// The events page: the audit trail of what was done (through the API here), filters by object
// type, action prefix, object id and result, links to the objects, live arrivals, "Load more".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directorySetup, expectAccessible, launchBrowser, login, screenshot, startEngine } from './harness.mjs';

test('events: the audit trail, filtered, linked, live, paged', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  const setup = await directorySetup(engine);
  await assert.rejects(engine.api('POST', '/clusters', { name: 'bad name!' }), /invalid cluster name/);
  await engine.api('POST', `/destinations/${setup.destination.id}/test`);

  await login(page, engine);
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  const table = page.getByRole('grid', { name: 'Events' });
  const rows = table.locator('tbody tr');
  const actions = () => table.locator('tbody tr td:nth-child(3)').allInnerTexts();
  await table.getByText('destination.test').waitFor();

  // Newest first, as the engine lists them.
  const all = (await engine.api('GET', '/events')).items;
  assert.deepEqual(await actions(), all.map((e) => e.action));
  // (logins and the first administrator are the user's events)
  assert.deepEqual(all.filter((e) => e.object_type !== 'user').map((e) => e.action).reverse(), [
    'cluster.create', 'host.add', 'volume.add', 'destination.create', 'cluster.create', 'destination.test',
  ]);
  // The failed creation: its result and the engine's message.
  const failed = rows.filter({ hasText: "invalid cluster name 'bad name!'" });
  await failed.getByText('failed', { exact: true }).waitFor();
  await screenshot(page, 'events');
  await expectAccessible(page, 'events');

  // Object type: only destinations (the engine filters; the URL says so).
  await page.getByLabel('Object type').selectOption('destination');
  await page.waitForURL(/object_type=destination/);
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === 2);
  assert.deepEqual(await actions(), ['destination.test', 'destination.create']);

  // A destination's object links to its cluster's destinations tab.
  const link = rows.first().getByRole('link', { name: `destination ${setup.destination.id}`, exact: true });
  assert.equal(await link.getAttribute('href'), `/clusters/${setup.cluster.id}/destinations`);

  // Action prefix, with the object type cleared.
  await page.getByLabel('Object type').selectOption('');
  await page.getByLabel('Action prefix').fill('cluster.');
  await page.waitForURL(/action=cluster\./);
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === 2);
  assert.deepEqual(await actions(), ['cluster.create', 'cluster.create']);

  // Result (filtered here): only the failed one.
  await page.getByLabel('Result').selectOption('failed');
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === 1);
  await rows.first().getByText("invalid cluster name 'bad name!'").waitFor();

  // Live, with filters: a failed cluster creation appears; a volume's does not.
  await engine.api('POST', '/clusters', { name: 'also bad!' }).catch(() => {});
  await engine.api('POST', `/clusters/${setup.cluster.id}/volumes`, { name: 'nope', kind: 'directory', host_id: setup.host.id, path: '/nonexistent-georep' }).catch(() => {});
  await table.getByText("invalid cluster name 'also bad!'").waitFor();
  assert.equal(await rows.count(), 2);
  assert.equal(await table.getByText('nope').count(), 0);

  // The object id filter from a row's filter button (the cluster's events only).
  await page.getByRole('button', { name: 'Clear filters', exact: true }).click();
  await page.waitForFunction(() => !location.search);
  await table.getByText('volume.add').first().waitFor();
  await rows.filter({ hasText: "cluster 'lab' created" }).getByRole('button', { name: `Only events of cluster ${setup.cluster.id}`, exact: true }).click();
  await page.waitForURL(new RegExp(`object_id=${setup.cluster.id}`));
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === 1);
  assert.equal(await page.getByLabel('Object ID').inputValue(), setup.cluster.id);
  // ... and its link opens the cluster.
  await rows.first().getByRole('link', { name: `cluster ${setup.cluster.id}`, exact: true }).click();
  await page.getByRole('heading', { name: 'Cluster lab' }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/clusters/${setup.cluster.id}/hosts`);

  // Live without filters: a cluster created through the API appears on top, no reload.
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await table.getByText('destination.test').waitFor();
  const before = await rows.count();
  const marker = await page.evaluate(() => (window.__georepMarker = Math.random()));
  const live = await engine.api('POST', '/clusters', { name: 'live-one' });
  await rows.first().getByText("cluster 'live-one' created").waitFor();
  assert.equal(await rows.count(), before + 1);
  assert.equal(await page.evaluate(() => window.__georepMarker), marker, 'the page was not reloaded');
  assert.equal((await engine.api('GET', '/events?limit=1')).items[0].object_id, live.id);

  // Load more: the engine answers the newest 100 first.
  for (let i = 0; i < 110; i++) await engine.api('POST', '/clusters', { name: `bulk-${i}` });
  const total = (await engine.api('GET', '/events?limit=1000')).items.length;
  assert.ok(total > 100);
  await page.reload();
  await table.getByText("cluster 'bulk-109' created").waitFor();
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === 100);
  await page.getByRole('button', { name: 'Load more', exact: true }).click();
  await page.waitForFunction((n) => document.querySelectorAll('table[aria-label="Events"] tbody tr').length === n, total);
  await table.getByText("cluster 'lab' created").waitFor();
  assert.equal(await page.getByRole('button', { name: 'Load more', exact: true }).count(), 0);

  assert.deepEqual(consoleErrors, []);
});
