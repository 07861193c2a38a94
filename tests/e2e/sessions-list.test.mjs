// The Sessions list and the worst-status columns, end to end against a real engine with
// directory volumes: every session in one table, worst status first, sorted by a column,
// filtered by text and by status (the status in the URL); bulk start / stop / pause / resume of
// the selected rows -- the sessions an action does not apply to left out with the engine's
// reason, a session the engine refuses reported with its message while the others go on; the
// Clusters and Volumes lists showing the worst status of their sessions; a viewer's bulk
// buttons disabled with the role they need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { directorySetup, launchBrowser, login, screenshot, startEngine, until } from './harness.mjs';

const disabledButton = (scope, name, reason) =>
  scope.getByRole('button', { name, exact: true, description: reason, disabled: true });

test('every session: sort, filter, bulk actions with per-session failures, worst status on clusters and volumes', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['alpha', 'bravo', 'charlie', 'delta'] });
  const mk = (vol, dest) => engine.api('POST', '/sessions', {
    destination_id: setup.destination.id, source_volume_id: setup.volumes[vol].id, destination_volume: dest,
  });
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const a = await mk('alpha', path.join(engine.dataDir, 'replica-alpha'));
  const b = await mk('bravo', path.join(engine.dataDir, 'replica-bravo'));
  const f = await mk('charlie', path.join(blocker, 'replica'));
  await engine.api('POST', `/sessions/${f.id}/start`);
  await until('charlie Faulty', async () => (await engine.api('GET', `/sessions/${f.id}`)).status === 'Faulty');
  await engine.api('POST', '/users', { name: 'vera', password: 'vera-viewer-password', role: 'viewer' });

  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  t.after(async () => {
    await screenshot(page, 'sessions-list-last').catch(() => {});
  });
  await login(page, engine);

  // --- Worst status first: the Faulty session leads.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
  await page.waitForURL('**/sessions');
  const table = page.getByRole('grid', { name: 'Sessions' });
  const row = (s) => table.locator(`tr[data-session-id="${s.id}"]`);
  const shownIds = () => table.locator('tbody tr[data-session-id]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-session-id')));
  await row(f).getByText('Faulty', { exact: true }).waitFor();
  await row(a).getByText('Created', { exact: true }).waitFor();
  assert.equal((await shownIds())[0], f.id);
  assert.match(await row(f).locator('td[data-label="Source volume"]').innerText(), /charlie/);
  assert.equal(await row(f).locator('td[data-label="Lag"]').innerText(), '\u2014');

  // --- Sorted by a column header, both ways.
  await table.getByRole('button', { name: 'Source volume' }).click();
  await until('sorted by source volume', async () => JSON.stringify(await shownIds()) === JSON.stringify([a.id, b.id, f.id]));
  await table.getByRole('button', { name: 'Source volume' }).click();
  await until('sorted by source volume, descending', async () => JSON.stringify(await shownIds()) === JSON.stringify([f.id, b.id, a.id]));

  // --- Filtered by text, then by status (which the URL carries).
  const search = page.getByRole('textbox', { name: 'Filter sessions' });
  await search.fill('bravo');
  await until('only bravo', async () => JSON.stringify(await shownIds()) === JSON.stringify([b.id]));
  await search.fill('');
  await page.getByRole('combobox', { name: 'Status' }).selectOption('Created');
  await page.waitForURL(/status=Created/);
  await until('only the Created ones', async () => JSON.stringify((await shownIds()).sort()) === JSON.stringify([a.id, b.id].sort()));
  await page.getByRole('combobox', { name: 'Status' }).selectOption('');
  await until('all three again', async () => (await shownIds()).length === 3);

  // --- Bulk: nothing selected, nothing offered.
  const bulk = page.getByRole('group', { name: 'Bulk actions on the selected sessions' });
  await disabledButton(bulk, 'Start', 'Select sessions first').waitFor();
  // The three selected: Start applies to the two Created ones; the Faulty one is left out, with
  // the engine's reason. Pause applies to none of them.
  for (const s of [a, b, f]) await page.getByRole('checkbox', { name: `Select ${s.session_key}` }).check();
  await page.getByText('3 selected').waitFor();
  await disabledButton(bulk, 'Resume', 'None of the selected sessions can be resumed now').waitFor();
  await bulk.getByRole('button', { name: 'Start', exact: true, disabled: false }).click();
  let dialog = page.getByRole('dialog', { name: 'Start 2 sessions?' });
  await dialog.waitFor();
  const targets = dialog.getByRole('list', { name: 'Sessions to start' });
  assert.equal(await targets.getByRole('listitem').count(), 2);
  const leftOut = dialog.getByRole('list', { name: 'Left out' });
  const why = (await engine.api('GET', `/sessions/${f.id}`)).allowed_actions.find((x) => x.action === 'start').reason;
  assert.ok(why, 'the engine says why a Faulty session is not simply started');
  const leftOutText = await leftOut.innerText();
  assert.match(leftOutText, /charlie .*\(Faulty\)/);
  assert.ok(leftOutText.toLowerCase().includes(why.toLowerCase()), `${leftOutText} gives the engine's reason: ${why}`);
  await screenshot(page, 'sessions-bulk-start');
  // Meanwhile bravo is started elsewhere: the engine refuses to start it again, alpha starts.
  await engine.api('POST', `/sessions/${b.id}/start`);
  await dialog.getByRole('button', { name: 'Start', exact: true }).click();
  await dialog.getByText('1 session started, 1 failed').waitFor({ timeout: 30000 });
  const bLine = targets.locator(`li[data-session-id="${b.id}"]`);
  assert.match(await bLine.innerText(), /failed: .*already started/i);
  assert.match(await targets.locator(`li[data-session-id="${a.id}"]`).innerText(), /: started$/);
  assert.notEqual((await engine.api('GET', `/sessions/${a.id}`)).status, 'Created');
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByText('3 selected').waitFor({ state: 'detached' });

  // --- Stop both running ones together, then Resume is offered for none.
  await until('alpha and bravo Active', async () =>
    (await engine.api('GET', `/sessions/${a.id}`)).status === 'Active' && (await engine.api('GET', `/sessions/${b.id}`)).status === 'Active');
  await row(a).getByText('Active', { exact: true }).waitFor();
  await row(b).getByText('Active', { exact: true }).waitFor();
  for (const s of [a, b]) await page.getByRole('checkbox', { name: `Select ${s.session_key}` }).check();
  await disabledButton(bulk, 'Resume', 'None of the selected sessions can be resumed now').waitFor();
  await bulk.getByRole('button', { name: 'Pause', exact: true, disabled: false }).click();
  dialog = page.getByRole('dialog', { name: 'Pause 2 sessions?' });
  await dialog.getByRole('button', { name: 'Pause', exact: true }).click();
  await dialog.getByText('2 sessions paused').waitFor({ timeout: 30000 });
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  assert.equal((await engine.api('GET', `/sessions/${a.id}`)).status, 'Paused');
  assert.equal((await engine.api('GET', `/sessions/${b.id}`)).status, 'Paused');
  await row(a).getByText('Paused', { exact: true }).waitFor();
  for (const s of [a, b]) await page.getByRole('checkbox', { name: `Select ${s.session_key}` }).check();
  await bulk.getByRole('button', { name: 'Stop', exact: true, disabled: false }).click();
  dialog = page.getByRole('dialog', { name: 'Stop 2 sessions?' });
  await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
  await dialog.getByText('2 sessions stopped').waitFor({ timeout: 30000 });
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  assert.equal((await engine.api('GET', `/sessions/${a.id}`)).status, 'Stopped');
  assert.equal((await engine.api('GET', `/sessions/${b.id}`)).status, 'Stopped');
  await row(b).getByText('Stopped', { exact: true }).waitFor();
  await screenshot(page, 'sessions-list');

  // --- The worst status of a cluster's and a volume's sessions.
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  const clusterRow = page.getByRole('grid', { name: 'Clusters' }).getByRole('row').filter({ hasText: 'lab' });
  await clusterRow.locator('td[data-label="Session status"]').getByText('Faulty', { exact: true }).waitFor();
  assert.match(await clusterRow.locator('td[data-label="Session status"]').innerText(), /1 of 3/);
  await page.getByRole('link', { name: 'Volumes', exact: true }).click();
  const volumes = page.getByRole('grid', { name: 'Volumes' });
  const volStatus = (name) => volumes.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) })
    .locator('td[data-label="Session status"]');
  await volStatus('charlie').getByText('Faulty', { exact: true }).waitFor();
  assert.equal((await volStatus('alpha').innerText()).trim(), 'Stopped');
  assert.equal((await volStatus('delta').innerText()).trim(), '\u2014');
  // It follows the engine: charlie's session removed, its volume has none.
  await engine.api('DELETE', `/sessions/${f.id}?force=true`);
  await until('charlie without sessions', async () => (await volStatus('charlie').innerText()).trim() === '\u2014');

  // --- A viewer sees the bulk actions, disabled with the role they need.
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(page, { url: engine.url, username: 'vera', password: 'vera-viewer-password' });
  await page.goto(`${engine.url}/sessions?status=Stopped`);
  await row(a).waitFor();
  await page.getByRole('checkbox', { name: `Select ${a.session_key}` }).check();
  for (const name of ['Start', 'Stop', 'Pause', 'Resume']) await disabledButton(bulk, name, 'Needs the operator role').waitFor();
  assert.deepEqual(consoleErrors, []);
});
