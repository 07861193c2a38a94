// The Overview, end to end against a real engine: the first page after login; on a new
// installation it says where to start; with sessions it counts them by status, worst first (a
// Faulty one for real: its replica directory cannot be made), each count linking to the
// Sessions list filtered by it; the sessions with the highest lag (an unknown lag a dash, never
// 0); the broken destination and its firing alert -- all following the engine without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, screenshot, startEngine, until } from './harness.mjs';

test('the overview: first page, empty state, statuses worst first, lag, broken destination, alert', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  t.after(async () => {
    await screenshot(page, 'overview-last').catch(() => {});
  });

  // --- The first page after login, first in the navigation; a new installation is told where to start.
  await login(page, engine);
  await page.waitForURL('**/overview');
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.getByRole('link').first().innerText(), 'Overview');
  assert.equal(await nav.getByRole('link', { name: 'Overview' }).getAttribute('aria-current'), 'page');
  await page.getByRole('heading', { name: 'Welcome to georep' }).waitFor();
  await page.getByRole('button', { name: 'Go to Clusters' }).waitFor();
  // An unknown address and / land here too.
  await page.goto(`${engine.url}/no-such-page`);
  await page.waitForURL('**/overview');
  await page.getByRole('heading', { name: 'Welcome to georep' }).waitFor();
  await page.evaluate(() => (window.__noReload = true));

  // --- A cluster with volumes and a destination: the welcome gives way (no reload).
  const setup = await directorySetup(engine, { volumes: ['alpha', 'bravo', 'charlie'] });
  const statusCard = page.getByRole('list', { name: 'Sessions by status' });
  await page.getByRole('heading', { name: 'No sessions yet' }).waitFor();
  await page.getByRole('heading', { name: 'No destination is broken' }).waitFor();
  await page.getByRole('heading', { name: 'No firing alerts' }).waitFor();

  // Three sessions: alpha replicating (Active), bravo Faulty (its replica cannot be created: a
  // file stands in the way), charlie created and never started.
  const mk = (vol, dest) => engine.api('POST', '/sessions', {
    destination_id: setup.destination.id, source_volume_id: setup.volumes[vol].id, destination_volume: dest,
  });
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const active = await mk('alpha', path.join(engine.dataDir, 'replica-alpha'));
  const faulty = await mk('bravo', path.join(blocker, 'replica'));
  const created = await mk('charlie', path.join(engine.dataDir, 'replica-charlie'));
  await engine.api('POST', `/sessions/${active.id}/start`);
  await engine.api('POST', `/sessions/${faulty.id}/start`);
  await until('alpha Active and bravo Faulty', async () =>
    (await engine.api('GET', `/sessions/${active.id}`)).status === 'Active' &&
    (await engine.api('GET', `/sessions/${faulty.id}`)).status === 'Faulty');
  // The destination's test finds the replica that cannot be made: Broken, and its alert fires.
  await engine.api('POST', `/destinations/${setup.destination.id}/test`).catch(() => {});
  const dest = await engine.api('GET', `/destinations/${setup.destination.id}`);
  assert.equal(dest.connection, 'Broken');

  // --- Counted by status, worst first; each a link to the Sessions list filtered by it.
  await statusCard.getByRole('link', { name: '1 Faulty session' }).waitFor();
  await statusCard.getByRole('link', { name: '1 Active session' }).waitFor();
  assert.deepEqual(await statusCard.getByRole('link').evaluateAll((ls) => ls.map((l) => l.getAttribute('aria-label'))),
    ['1 Faulty session', '1 Created session', '1 Active session']);
  assert.equal(await statusCard.getByRole('link', { name: '1 Faulty session' }).getAttribute('href'), '/sessions?status=Faulty');
  await page.getByRole('link', { name: 'All 3 sessions' }).waitFor();
  await expectAccessible(page, 'overview-with-sessions');

  // --- The broken destination, with the engine's reason; the firing alert.
  const broken = page.getByRole('grid', { name: 'Broken destinations' });
  const brokenRow = broken.getByRole('row').filter({ hasText: `${dest.remote_user}@localhost` });
  await brokenRow.getByText('Broken', { exact: true }).waitFor();
  assert.ok((await brokenRow.innerText()).includes(dest.connection_reason.slice(0, 40)), await brokenRow.innerText());
  assert.equal(await brokenRow.getByRole('link').getAttribute('href'), `/clusters/${setup.cluster.id}/destinations`);
  const alerts = page.getByRole('list', { name: 'Alerts firing now' });
  await alerts.getByRole('listitem').filter({ hasText: 'destination-broken' }).waitFor();
  await page.getByRole('heading', { name: /^Firing alerts \([1-9]/ }).waitFor();

  // --- Highest lag: a known lag first, highest first; an unknown one a dash, never 0.
  const lagTable = page.getByRole('grid', { name: 'Highest lag' });
  const lagRow = (s) => lagTable.locator(`tr[data-session-id="${s.id}"]`);
  await lagRow(created).waitFor();
  assert.equal((await engine.api('GET', `/sessions/${created.id}`)).lag_seconds, null);
  assert.equal(await lagRow(created).locator('td[data-label="Lag"]').innerText(), '\u2014');
  assert.equal(await lagRow(created).getByRole('link').innerText(), `charlie \u2192 localhost::${created.destination_volume}`);
  const shown = await lagTable.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-session-id')));
  assert.deepEqual(shown.slice().sort(), [active.id, faulty.id, created.id].sort());
  const lags = await Promise.all(shown.map(async (id) => (await engine.api('GET', `/sessions/${id}`)).lag_seconds));
  const firstUnknown = lags.indexOf(null);
  assert.ok(firstUnknown === -1 || lags.slice(firstUnknown).every((l) => l === null), `known lags first: ${JSON.stringify(lags)}`);
  for (const id of shown) {
    const cell = await lagRow({ id }).locator('td[data-label="Lag"]').innerText();
    assert.notEqual(cell.trim(), '0', 'no made-up 0');
  }
  await page.getByRole('button', { name: /Alerts: [1-9]/ }).waitFor();
  await screenshot(page, 'overview');

  // --- Live: alpha stopped elsewhere shows up here without a reload.
  await engine.api('POST', `/sessions/${active.id}/stop`);
  await statusCard.getByRole('link', { name: '1 Stopped session' }).waitFor();
  await statusCard.getByRole('link', { name: '1 Active session' }).waitFor({ state: 'detached' });
  assert.deepEqual(await statusCard.getByRole('link').evaluateAll((ls) => ls.map((l) => l.getAttribute('aria-label'))),
    ['1 Faulty session', '1 Stopped session', '1 Created session']);
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');

  // --- A count leads to the Sessions list filtered by its status.
  await statusCard.getByRole('link', { name: '1 Faulty session' }).click();
  await page.waitForURL('**/sessions?status=Faulty');
  const sessions = page.getByRole('grid', { name: 'Sessions' });
  await sessions.locator(`tr[data-session-id="${faulty.id}"]`).getByText('Faulty', { exact: true }).waitFor();
  assert.equal(await sessions.locator('tbody tr[data-session-id]').count(), 1);
  assert.equal(await page.getByRole('combobox', { name: 'Status' }).inputValue(), 'Faulty');

  // --- A session in the lag table leads to its page.
  await page.getByRole('link', { name: 'Overview' }).click();
  await lagRow(faulty).getByRole('link').click();
  await page.waitForURL(`**/sessions/${faulty.id}`);
  await page.getByRole('heading', { name: /^bravo →/ }).waitFor();
  assert.deepEqual(consoleErrors, []);
});
