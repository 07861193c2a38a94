// The gluster side of New Geo-Replication Session, which needs a Gluster cluster the test
// machine does not have: the engine is real, but the volume is presented as a gluster volume
// and the destination's candidate volumes and the create call are answered by the test (route
// interception). What is checked is the console's part: eligible volumes first, "Show all
// volumes" with the reasons, Force required for an ineligible one, the request sent, the
// engine's error kept in the dialog, and the actions a gluster session offers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directorySetup, launchBrowser, login, screenshot, startEngine } from './harness.mjs';

test('new session for a gluster volume: eligibility, Show all volumes, Force', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['gv0'] });
  const vol = setup.volumes.gv0;

  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  const candidates = [
    { name: 'backup', status: 'Started', size_bytes: 10 * 2 ** 30, eligible: true, reasons: [] },
    { name: 'small', status: 'Started', size_bytes: 2 ** 20, eligible: false, reasons: ['destination volume is smaller than the source volume'] },
    { name: 'busy', status: 'Started', size_bytes: 10 * 2 ** 30, eligible: false, reasons: ['destination volume is not empty'] },
  ];
  const posted = [];
  let candidateQuery = null;
  // The volume reads as a gluster volume of two bricks.
  await page.route(`**/api/v1/volumes/${vol.id}`, async (route) => {
    const res = await route.fetch();
    const v = await res.json();
    await route.fulfill({ response: res, json: { ...v, kind: 'gluster', replica_count: 2, bricks: [...v.bricks, { host_id: setup.host.id, path: '/bricks/b2' }] } });
  });
  await page.route(`**/api/v1/destinations/${setup.destination.id}/volumes?*`, async (route) => {
    candidateQuery = new URL(route.request().url()).searchParams.get('source_volume_id');
    await route.fulfill({ json: { items: candidates } });
  });
  await page.route('**/api/v1/sessions', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    const body = route.request().postDataJSON();
    posted.push(body);
    if (posted.length === 1) {
      return route.fulfill({ status: 409, json: { error: { code: 'already_exists', message: 'localhost::small is already the destination of another session' } } });
    }
    const now = new Date().toISOString();
    await route.fulfill({
      status: 201,
      json: {
        id: 'mock-session', destination_id: body.destination_id, source_volume_id: body.source_volume_id,
        destination_volume: body.destination_volume, remote_user: 'root', session_key: `gv0_localhost_${body.destination_volume}`,
        status: 'Created', status_reason: '', created_at: now, updated_at: now,
        nodes: [
          { source_host: 'localhost', source_brick: vol.path, set_index: 0, destination_host: 'localhost', status: 'Created', status_reason: '', crawl_status: 'N/A', last_synced: null, entry_pending: 0, data_pending: 0, meta_pending: 0, failures: 0, checkpoint_time: null, checkpoint_completed: false, checkpoint_completion_time: null, lag_seconds: 0, throughput_bytes_per_second: 0, updated_at: now },
        ],
        warnings: ['rsync 3.4.1 on localhost writes empty files with gsyncd: set sync-method tarssh'],
        // What the engine says a Created session allows (model/session_lifecycle.h).
        allowed_actions: [
          { action: 'start', mode: 'ok' },
          { action: 'stop', mode: 'force', reason: 'cannot stop a session that is Created: it is not started' },
          { action: 'pause', mode: 'no', reason: 'cannot pause a session that is Created: it is not started' },
          { action: 'resume', mode: 'no', reason: 'cannot resume a session that is Created: it is not paused' },
          { action: 'delete', mode: 'ok' },
        ],
      },
    });
  });

  await login(page, engine);
  await page.goto(`${engine.url}/volumes/${vol.id}`);
  await page.waitForURL(`**/volumes/${vol.id}/sessions`);
  await page.getByRole('button', { name: 'New', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'New Geo-Replication Session' });
  await dialog.getByText('Destination hosts attached to cluster lab').waitFor();
  const vols = dialog.getByRole('grid', { name: 'Destination volumes' });
  await vols.getByText('backup').waitFor();
  assert.equal(candidateQuery, vol.id, 'candidates are asked for this source volume');
  // Only the eligible volume at first.
  assert.equal(await vols.getByRole('row').count(), 2);
  await dialog.getByRole('checkbox', { name: 'Show all volumes' }).check({ force: true });
  await vols.getByText('destination volume is smaller than the source volume').waitFor();
  assert.equal(await vols.getByRole('row').count(), 4);
  await screenshot(page, 'session-new-gluster');

  // An ineligible volume needs Force.
  await vols.getByRole('radio', { name: 'Choose small' }).check();
  await dialog.getByText(/small is not eligible/).waitFor();
  const create = dialog.getByRole('button', { name: 'Create', exact: true });
  assert.ok(await create.isDisabled());
  await dialog.getByLabel('Force').check();
  assert.ok(await create.isEnabled());
  await create.click();
  // The engine's refusal, inside the dialog, nothing lost.
  await dialog.getByRole('alert').getByText('localhost::small is already the destination of another session').waitFor();
  assert.ok(await vols.getByRole('radio', { name: 'Choose small' }).isChecked());
  assert.deepEqual(posted[0], { destination_id: setup.destination.id, source_volume_id: vol.id, destination_volume: 'small', force: true });

  // An eligible one, without Force, with tarssh (the engine's advice where rsync is 3.4+).
  await vols.getByRole('radio', { name: 'Choose backup' }).check();
  await dialog.getByLabel('Force').uncheck();
  await dialog.getByLabel('Sync method').selectOption('tarssh');
  await create.click();
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(posted[1], {
    destination_id: setup.destination.id, source_volume_id: vol.id, destination_volume: 'backup', force: false, sync_method: 'tarssh',
  });
  // The new session is in the table, its warnings shown.
  const row = page.locator('tr[data-session-id="mock-session"]');
  await row.getByText('Created').waitFor();
  await page.getByText('rsync 3.4.1 on localhost writes empty files').waitFor();

  // A gluster session can be verified as a directory session can (the engine mounts the
  // volumes on their nodes).
  await row.getByRole('button', { name: 'Actions for gv0_localhost_backup', exact: true }).click();
  const verify = page.getByRole('menuitem', { name: /^Verify/ });
  assert.notEqual(await verify.getAttribute('aria-disabled'), 'true');
  await page.keyboard.press('Escape');

  // Remove offers Reset sync time for a gluster session; the engine's answer (it has no such
  // session: it was invented here) stays in the dialog.
  await row.getByRole('button', { name: 'Actions for gv0_localhost_backup', exact: true }).click();
  await page.getByRole('menuitem', { name: /^Remove/ }).click();
  const remove = page.getByRole('dialog', { name: 'Remove session?' });
  await remove.getByLabel('Reset sync time').check();
  const del = page.waitForRequest((r) => r.method() === 'DELETE' && r.url().includes('/sessions/mock-session'));
  await remove.getByRole('button', { name: 'Remove', exact: true }).click();
  const q = new URL((await del).url()).searchParams;
  assert.equal(q.get('reset_sync_time'), 'true');
  assert.equal(q.get('force'), null);
  await remove.getByRole('alert').getByText(/not found|no such|does not exist/i).waitFor();
  await screenshot(page, 'session-remove-error');
  await remove.getByRole('button', { name: 'Cancel', exact: true }).click();
  await remove.waitFor({ state: 'detached' });
  assert.ok(await row.isVisible(), 'a failed removal leaves the row');

  assert.deepEqual(consoleErrors, []);
});
