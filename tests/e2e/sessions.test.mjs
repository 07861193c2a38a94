// Geo-replication sessions through the console, end to end against a real engine with
// directory volumes: the volumes list, a volume's sessions tab, New session, Start (the table
// turns Active without a reload), files replicated, Config (a refused value, a good one, Reset),
// Set checkpoint, Verify (identical, then a difference, then Repair), Pause / Resume / Stop (Repair
// refused there, in the engine's words) / Remove, the
// session's details with its node and charts, and the keyboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, openMenu, screenshot, startEngine, until, waitForValue } from './harness.mjs';

test('sessions of a directory volume, through the console', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['source'] });
  const vol = setup.volumes.source;
  mkdirSync(path.join(vol.path, 'docs'), { recursive: true });
  const files = { 'a.txt': 'alpha\n', 'b.txt': 'bravo bravo\n', 'docs/c.txt': 'charlie '.repeat(1000) };
  for (const [f, body] of Object.entries(files)) writeFileSync(path.join(vol.path, f), body);
  const replica = path.join(engine.dataDir, 'replica-1');

  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  // On a failure, what the page showed.
  t.after(async () => {
    if (t.signal?.aborted === false) await screenshot(page, 'sessions-last').catch(() => {});
  });
  await login(page, engine);

  // --- Volumes
  await page.getByRole('link', { name: 'Volumes', exact: true }).click();
  const volumes = page.getByRole('grid', { name: 'Volumes' }).or(page.getByRole('table', { name: 'Volumes' }));
  const volRow = volumes.getByRole('row').filter({ has: page.getByRole('link', { name: 'source', exact: true }) });
  await volRow.waitFor();
  const volText = await volRow.innerText();
  assert.match(volText, /lab/);
  assert.match(volText, /directory/);
  assert.ok(volText.includes(vol.path), `the row shows the path: ${volText}`);
  assert.equal(await volRow.getByRole('link', { name: '0 sessions of source', exact: true }).innerText(), '0');
  await screenshot(page, 'volumes');
  await expectAccessible(page, 'volumes');

  // --- The volume: Geo-Replication Sessions is the default tab
  await volRow.getByRole('link', { name: 'source', exact: true }).click();
  await page.waitForURL(`**/volumes/${vol.id}/sessions`);
  assert.equal(await page.getByRole('tab', { name: 'Geo-Replication Sessions', exact: true }).getAttribute('aria-selected'), 'true');
  await page.getByText('No geo-replication sessions').waitFor();
  // General tab, by URL, and back.
  await page.getByRole('tab', { name: 'General', exact: true }).click();
  await page.waitForURL(`**/volumes/${vol.id}/general`);
  await page.getByText(vol.id).waitFor();
  await page.getByRole('tab', { name: 'Geo-Replication Sessions', exact: true }).click();
  await page.waitForURL(`**/volumes/${vol.id}/sessions`);

  // --- New session
  await page.getByRole('button', { name: 'New', exact: true }).click();
  let dialog = page.getByRole('dialog', { name: 'New Geo-Replication Session' });
  await dialog.waitFor();
  // The only destination of the cluster is chosen (once the destinations have loaded); a
  // relative path is refused in the form.
  await waitForValue(dialog.getByLabel('Destination host'), setup.destination.id);
  await dialog.getByLabel('Destination path').fill('replica-1');
  await dialog.getByText('An absolute path (starting with /).').waitFor();
  assert.ok(await dialog.getByRole('button', { name: 'Create', exact: true }).isDisabled());
  await dialog.getByLabel('Destination path').fill(replica);
  await screenshot(page, 'session-new');
  await expectAccessible(page, 'session-new');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  const listed = await engine.api('GET', `/volumes/${vol.id}/sessions`);
  assert.equal(listed.items.length, 1);
  const session = listed.items[0];
  assert.equal(session.destination_volume, replica);
  assert.equal(session.status, 'Created');
  const sessions = page.getByRole('grid', { name: 'Geo-replication sessions' });
  const row = sessions.locator(`tr[data-session-id="${session.id}"]`);
  await row.getByText('Created').waitFor();
  assert.match(await row.innerText(), new RegExp(session.session_key));

  // The engine's refusal shows inside the dialog, which stays open with what was typed.
  await page.getByRole('button', { name: 'New', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'New Geo-Replication Session' });
  await dialog.getByLabel('Destination path').fill(replica);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByRole('alert').getByText('is already the destination of another session').waitFor();
  assert.equal(await dialog.getByLabel('Destination path').inputValue(), replica);
  assert.equal((await engine.api('GET', `/volumes/${vol.id}/sessions`)).items.length, 1);
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  const menu = (item) =>
    openMenu(page, row.getByRole('button', { name: `Actions for ${session.session_key}`, exact: true }),
      new RegExp(`^${item}`));
  const act = async (item) => (await menu(item)).click();

  // A Created session can be started and removed, not stopped or paused.
  await menu('Stop');
  assert.equal(await page.getByRole('menuitem', { name: /^Stop/ }).getAttribute('aria-disabled'), 'true');
  assert.equal(await page.getByRole('menuitem', { name: /^Pause/ }).getAttribute('aria-disabled'), 'true');
  assert.notEqual(await page.getByRole('menuitem', { name: /^Start/ }).getAttribute('aria-disabled'), 'true');
  await page.keyboard.press('Escape');

  // --- Start: the table turns Active by itself (no reload of the page)
  await page.evaluate(() => (window.__noReload = true));
  await act('Start');
  dialog = page.getByRole('dialog', { name: 'Start session?' });
  await dialog.getByRole('button', { name: 'Start', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.getByText('Active', { exact: true }).first().waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Active');

  // The files arrived.
  await until('the files in the replica', () =>
    Object.entries(files).every(([f, body]) => existsSync(path.join(replica, f)) && readFileSync(path.join(replica, f), 'utf8') === body));

  // Per-node breakdown.
  await row.getByRole('button', { name: `Nodes of ${session.session_key} Details`, exact: true }).click();
  const nodes = page.getByRole('grid', { name: `Nodes of ${session.session_key}` }).or(page.getByRole('table', { name: `Nodes of ${session.session_key}` }));
  await nodes.getByText(`localhost:${vol.path}`).waitFor();
  await screenshot(page, 'volume-sessions');
  await expectAccessible(page, 'volume-sessions');

  // --- Config: a value the engine refuses, its message on the row; a good one; Reset.
  await act('Config');
  dialog = page.getByRole('dialog', { name: /^Config of/ });
  await dialog.getByRole('grid', { name: 'Session configuration' }).or(dialog.getByRole('table', { name: 'Session configuration' })).waitFor();
  await dialog.getByLabel('Filter options').fill('rescan');
  assert.equal(await dialog.locator('tr[data-config-key]').count(), 1);
  const cfgRow = dialog.locator('tr[data-config-key="rescan-interval"]');
  await cfgRow.getByRole('button', { name: 'Edit rescan-interval', exact: true }).click();
  await cfgRow.getByLabel('Value of rescan-interval').fill('soon');
  await cfgRow.getByRole('button', { name: 'Save rescan-interval', exact: true }).click();
  await cfgRow.getByText("rescan-interval takes a whole number, not 'soon'").waitFor();
  await cfgRow.getByLabel('Value of rescan-interval').fill('99999999');
  await cfgRow.getByLabel('Value of rescan-interval').press('Enter');
  await cfgRow.getByText('rescan-interval must be between 0 and 604800, not 99999999').waitFor();
  let cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  assert.equal(cfg.items.find((i) => i.key === 'rescan-interval').is_default, true);
  await cfgRow.getByLabel('Value of rescan-interval').fill('600');
  await cfgRow.getByRole('button', { name: 'Save rescan-interval', exact: true }).click();
  await cfgRow.getByText('Modified').waitFor();
  cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  assert.equal(cfg.items.find((i) => i.key === 'rescan-interval').value, '600');
  // An option with allowed values is edited with a select.
  await dialog.getByLabel('Filter options').fill('');
  const llRow = dialog.locator('tr[data-config-key="log-level"]');
  await llRow.getByRole('button', { name: 'Edit log-level', exact: true }).click();
  await llRow.getByLabel('Value of log-level').selectOption('DEBUG');
  await llRow.getByRole('button', { name: 'Save log-level', exact: true }).click();
  await llRow.getByText('Modified').waitFor();
  cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  assert.equal(cfg.items.find((i) => i.key === 'log-level').value, 'DEBUG');
  await screenshot(page, 'session-config');
  await expectAccessible(page, 'session-config');
  await llRow.getByRole('button', { name: 'Reset log-level', exact: true }).click();
  await llRow.getByText('Modified').waitFor({ state: 'detached' });
  await cfgRow.getByRole('button', { name: 'Reset rescan-interval', exact: true }).click();
  await cfgRow.getByText('Modified').waitFor({ state: 'detached' });
  assert.ok(await cfgRow.getByRole('button', { name: 'Reset rescan-interval', exact: true }).isDisabled(), 'Reset is disabled at the default');
  cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  const ri = cfg.items.find((i) => i.key === 'rescan-interval');
  assert.equal(ri.is_default, true);
  assert.equal(ri.value, '3600');
  assert.equal(cfg.items.find((i) => i.key === 'log-level').is_default, true);
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  // --- Set checkpoint
  await act('Set checkpoint');
  dialog = page.getByRole('dialog', { name: 'Set checkpoint' });
  await dialog.getByRole('button', { name: 'Set checkpoint', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  const cp = cfg.items.find((i) => i.key === 'checkpoint');
  assert.equal(cp.is_default, false);
  assert.ok(Number(cp.value) > 1.6e9, `checkpoint is a time: ${cp.value}`);
  const withCheckpoint = await until('the node to report the checkpoint', async () => {
    const s = await engine.api('GET', `/sessions/${session.id}`);
    return s.nodes[0].checkpoint_time ? s : null;
  }, 30000);
  assert.ok(withCheckpoint.nodes[0].checkpoint_time);

  // --- Verify: identical, then a file changed by hand on the destination.
  await act('Verify');
  dialog = page.getByRole('dialog', { name: /^Verify/ });
  await dialog.getByRole('button', { name: 'Verify', exact: true }).click();
  await dialog.getByText('Source and destination are identical').waitFor({ timeout: 60000 });
  assert.match(await dialog.innerText(), /Entries compared\s*\d+/);
  await screenshot(page, 'session-verify');
  await expectAccessible(page, 'session-verify');
  writeFileSync(path.join(replica, 'b.txt'), 'changed by hand\n');
  await dialog.getByRole('button', { name: 'Verify again', exact: true }).click();
  await dialog.getByText(/\d+ differences? found/).waitFor({ timeout: 60000 });
  const diffs = dialog.getByRole('grid', { name: 'Differences' }).or(dialog.getByRole('table', { name: 'Differences' }));
  const diffRow = diffs.getByRole('row').filter({ has: page.getByText('b.txt', { exact: true }) });
  await diffRow.waitFor();
  assert.equal(await diffs.getByRole('row').count(), 2, 'a header and one entry: only b.txt differs');
  assert.match(await diffRow.innerText(), /12 bytes at the source|modified/);
  assert.match(await dialog.innerText(), /Not compared: /);
  await screenshot(page, 'session-verify-difference');
  await expectAccessible(page, 'session-verify-difference');
  // --- Repair, offered after a verify that found differences: b.txt sent again, verified.
  await dialog.getByRole('button', { name: 'Repair', exact: true }).click();
  await dialog.getByText(/Repaired: 1 sent again, 0 deleted; verified again: identical/).waitFor({ timeout: 60000 });
  await dialog.getByText('Source and destination are identical').waitFor();
  assert.equal(readFileSync(path.join(replica, 'b.txt'), 'utf8') === 'changed by hand\n', false);
  await dialog.getByRole('button', { name: 'Verify again' }).waitFor();
  await screenshot(page, 'session-repair');
  await expectAccessible(page, 'session-repair');
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  // --- Pause: Resume enabled, Pause disabled.
  await act('Pause');
  dialog = page.getByRole('dialog', { name: 'Pause session?' });
  await dialog.getByRole('button', { name: 'Pause', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.getByText('Paused', { exact: true }).first().waitFor();
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Paused');
  await menu('Resume');
  assert.equal(await page.getByRole('menuitem', { name: /^Pause/ }).getAttribute('aria-disabled'), 'true');
  assert.notEqual(await page.getByRole('menuitem', { name: /^Resume/ }).getAttribute('aria-disabled'), 'true');
  await page.getByRole('menuitem', { name: /^Resume/ }).click();
  dialog = page.getByRole('dialog', { name: 'Resume session?' });
  await dialog.getByRole('button', { name: 'Resume', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.getByText('Active', { exact: true }).first().waitFor({ timeout: 30000 });
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Active');

  // --- Session details: the node, the charts, the keyboard.
  await row.getByRole('link', { name: session.session_key }).click();
  await page.waitForURL(`**/sessions/${session.id}`);
  const nodeTable = page.getByRole('grid', { name: 'Session nodes' }).or(page.getByRole('table', { name: 'Session nodes' }));
  const nodeRow = nodeTable.getByRole('row').filter({ hasText: vol.path });
  await nodeRow.getByText('Active', { exact: true }).waitFor();
  // A node that has not synced shows a dash (not known), never a made-up time: wait for the
  // worker restarted by Resume (on a loaded machine its first report can take seconds), then
  // the node must show when it last synced -- and the header the same.
  const nodeSynced = nodeRow.locator('td[data-label="Last synced"]');
  let nodeText = await nodeSynced.innerText();
  for (const until = Date.now() + 30000; nodeText.trim() === '\u2014' && Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    nodeText = await nodeSynced.innerText();
  }
  assert.match(nodeText, /just now|s ago|min ago/, `the node has synced: ${nodeText}`);
  const headerSynced = page.getByLabel('Last synced');
  assert.equal(await headerSynced.locator('time').getAttribute('datetime'), await nodeSynced.locator('time').getAttribute('datetime'),
    'the header says what the node row says');
  await page.getByRole('region', { name: 'Lag chart' }).locator('svg').first().waitFor({ timeout: 30000 });
  await page.getByRole('region', { name: 'Throughput chart' }).locator('svg').first().waitFor({ timeout: 30000 });
  await page.getByLabel('Checkpoint state').getByText(/Completed|Pending/).waitFor();
  await screenshot(page, 'session-details');
  await expectAccessible(page, 'session-details');
  await page.getByRole('region', { name: 'Throughput chart' }).scrollIntoViewIfNeeded();
  await screenshot(page, 'session-details-charts');
  await expectAccessible(page, 'session-details-charts');
  await page.getByRole('heading', { name: /^source →/ }).scrollIntoViewIfNeeded();

  // Keyboard: Tab to Config, Enter opens it, Escape closes it and focus comes back.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  let focused = '';
  for (let i = 0; i < 80 && focused !== 'Config'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => (document.activeElement?.tagName === 'BUTTON' ? document.activeElement.textContent : ''));
  }
  assert.equal(focused, 'Config', 'Config is reachable with Tab');
  await page.keyboard.press('Enter');
  dialog = page.getByRole('dialog', { name: /^Config of/ });
  await dialog.getByRole('button', { name: 'Edit sync-jobs', exact: true }).waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await until('focus back on Config', () => page.evaluate(() => document.activeElement?.textContent === 'Config'), 3000);

  // Start on an Active session needs Force (it restarts the workers): POST start?force=true.
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Start session?' });
  await dialog.getByText(/it is already started/).waitFor();
  assert.ok(await dialog.getByRole('button', { name: 'Start', exact: true }).isDisabled(), 'Start waits for Force');
  await dialog.getByLabel('Force').check();
  const forced = page.waitForRequest((r) => r.method() === 'POST' && r.url().includes(`/sessions/${session.id}/start?force=true`));
  await dialog.getByRole('button', { name: 'Start', exact: true }).click();
  await forced;
  await dialog.waitFor({ state: 'detached' });
  await nodeRow.getByText('Active', { exact: true }).waitFor({ timeout: 30000 });
  const audit = await engine.api('GET', `/events?object_id=${session.id}&action=session.start`);
  assert.equal(audit.items.filter((e) => e.result === 'ok').length, 2, 'two starts recorded, the second forced');

  // --- Stop, then Remove from the table.
  await page.getByRole('link', { name: 'source', exact: true }).click();
  await page.waitForURL(`**/volumes/${vol.id}/sessions`);
  await act('Stop');
  dialog = page.getByRole('dialog', { name: 'Stop session?' });
  await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.getByText('Stopped', { exact: true }).first().waitFor();
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Stopped');

  // --- Repair needs the session running (its worker sends the differences): on a stopped one
  // the engine refuses, and says so in the dialog; Verify again stays at hand.
  writeFileSync(path.join(replica, 'a.txt'), 'changed while stopped\n');
  await act('Verify');
  dialog = page.getByRole('dialog', { name: /^Verify/ });
  await dialog.getByRole('button', { name: 'Verify', exact: true }).click();
  await dialog.getByText(/\d+ differences? found/).waitFor({ timeout: 60000 });
  await dialog.getByRole('button', { name: 'Repair', exact: true }).click();
  await dialog.getByText('The engine did not repair the destination').waitFor({ timeout: 60000 });
  await dialog.getByText('the session is Stopped: start it first').waitFor();
  assert.equal(readFileSync(path.join(replica, 'a.txt'), 'utf8'), 'changed while stopped\n', 'nothing was repaired');
  await screenshot(page, 'session-repair-refused');
  await dialog.getByRole('button', { name: 'Verify again' }).click();
  await dialog.getByText(/\d+ differences? found/).waitFor({ timeout: 60000 });
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  await act('Remove');
  dialog = page.getByRole('dialog', { name: 'Remove session?' });
  await dialog.getByText('goes with the session').waitFor();
  await screenshot(page, 'session-remove');
  await expectAccessible(page, 'session-remove');
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.waitFor({ state: 'detached' });
  await page.getByText('No geo-replication sessions').waitFor();
  assert.equal((await engine.api('GET', `/volumes/${vol.id}/sessions`)).items.length, 0);
  await assert.rejects(engine.api('GET', `/sessions/${session.id}`), /404/);
  // The data stays on the destination.
  assert.ok(existsSync(path.join(replica, 'a.txt')));

  assert.deepEqual(consoleErrors, []);
});
