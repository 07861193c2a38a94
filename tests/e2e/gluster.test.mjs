// The console on REAL GlusterFS (the lab of tests/gluster/cluster.sh: source cluster src1+src2
// with replica-2 volume gv0, destination dst1 with gv1 and gv2): import the cluster, pin and
// check the second host, attach dst1 as a destination with its keys copied, create a session
// gv0 -> gv2 (gv1 is made non-empty, so not eligible), switch it to tarssh, start it (one
// Active and one Passive node), stop and remove it. Every step is done through the browser;
// the REST API only checks the effects. Needs root (namespaces) and runs alone (one lab).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { glusterState, launchBrowser, login, screenshot, startEngine, startGlusterLab, until } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const clusterSh = path.resolve(here, '../gluster/cluster.sh');

// Runs argv on a lab node (its network and mount namespaces), as the C++ suite's OnNode does.
function onNode(node, argv) {
  return execFileSync('/usr/bin/nsenter', [`--net=/run/netns/${node}`, `--mount=${glusterState}/${node}/mnt.ns`, '--', ...argv],
    { encoding: 'utf8', timeout: 60000 });
}

const sorted = (a) => [...a].sort();

test('gluster: import, re-pin, destination with keys, session gv0 -> gv2 started (Active + Passive), stopped, removed — through the console', {
  timeout: 600000,
  // As the C++ Gluster suite: for quick local runs only (CI never sets it).
  skip: process.env.GEOREP_SKIP_GLUSTER !== undefined && 'GEOREP_SKIP_GLUSTER is set',
}, async (t) => {
  const t0 = Date.now();
  const engine = await startEngine({ monitorInterval: 2 });
  let lab = null;
  let browser = null;
  let page = null;
  let passed = false;
  let consoleErrors = [];
  const consoleMessages = [];
  // Everything goes, in order, whatever happened: the browser, the engine, then the lab.
  t.after(async () => {
    if (page && !passed) {
      await screenshot(page, 'gluster-last').catch(() => {});
      console.log(`page errors: ${JSON.stringify(consoleErrors)}\nconsole: ${JSON.stringify(consoleMessages.slice(-20))}`);
    }
    if (browser) await browser.close().catch(() => {});
    if (!passed) {
      const { out, err } = engine.logs();
      console.log(`--- engine output (last 4000 chars)\n${(out + err).slice(-4000)}`);
    }
    await engine.stop().catch((e) => console.log(`engine stop: ${e}`));
    if (lab) await lab.down();
    else if (!process.env.GEOREP_KEEP_CLUSTERS) execFileSync('/bin/bash', [clusterSh, 'down', glusterState], { timeout: 120000 });
  });
  lab = await startGlusterLab(engine);
  const { src1, src2, dst1 } = lab.nodes;
  console.log(`lab up after ${Math.round((Date.now() - t0) / 1000)} s`);

  // Lab preparation (not a console flow): gv1 gets a file, so it is not eligible -- as in the
  // C++ suite.
  const dstMnt = `${glusterState}/dst1/mnt-gv1`;
  onNode('dst1', ['/bin/mkdir', '-p', dstMnt]);
  onNode('dst1', ['/bin/mount', '-t', 'glusterfs', `${dst1.ip}:/gv1`, dstMnt]);
  onNode('dst1', ['/bin/cp', '/etc/hostname', `${dstMnt}/already-here`]);
  onNode('dst1', ['/bin/umount', dstMnt]);

  ({ browser, page, consoleErrors } = await launchBrowser());
  page.on('console', (m) => m.type() === 'error' && consoleMessages.push(m.text()));
  await login(page, engine);

  // --- 1. Import the source cluster through src1.
  await page.goto(`${engine.url}/clusters`);
  await page.getByRole('heading', { name: 'No clusters yet' }).waitFor();
  await page.getByRole('button', { name: 'New cluster', exact: true }).click();
  let dialog = page.getByRole('dialog', { name: 'New cluster' });
  await dialog.getByRole('radio', { name: /Import a Gluster cluster/ }).check();
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('src');
  await dialog.getByLabel('Address of one host').fill(src1.ip);
  const importBtn = dialog.getByRole('button', { name: 'Import', exact: true });
  assert.equal(await importBtn.isDisabled(), true, 'import needs a confirmed host key');
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByRole('radio', { name: `ssh-ed25519 ${src1.fingerprint}` }).waitFor({ timeout: 30000 });
  assert.deepEqual(await dialog.locator('code.georep-fingerprint').allInnerTexts(), [src1.fingerprint]);
  assert.equal(await importBtn.isDisabled(), true);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  await screenshot(page, 'gluster-import');
  await importBtn.click();
  await page.getByRole('heading', { name: 'Cluster src' }).waitFor({ timeout: 120000 });
  const clusters = (await engine.api('GET', '/clusters')).items;
  assert.deepEqual(clusters.map((c) => c.name), ['src']);
  const clusterId = clusters[0].id;
  const hosts = (await engine.api('GET', `/clusters/${clusterId}/hosts`)).items;
  assert.equal(hosts.length, 2, JSON.stringify(hosts));
  const h1 = hosts.find((h) => h.address === src1.ip);
  const h2 = hosts.find((h) => h.address === src2.ip);
  assert.ok(h1 && h2, JSON.stringify(hosts));
  assert.equal(h1.ssh_fingerprint, src1.fingerprint);
  assert.equal(h2.ssh_fingerprint, '', 'src2 is not confirmed yet');
  const volumes = (await engine.api('GET', `/clusters/${clusterId}/volumes`)).items;
  assert.equal(volumes.length, 1, JSON.stringify(volumes));
  const gv0 = volumes[0];
  assert.equal(gv0.name, 'gv0');
  assert.equal(gv0.kind, 'gluster');
  assert.equal(gv0.status, 'Started');

  // --- 2. Hosts: src2 has no pinned key; re-pin it (confirmed), then Check: Up.
  await page.waitForURL(`**/clusters/${clusterId}/hosts`);
  const hostsTable = page.getByRole('grid', { name: 'Hosts' });
  const h2Row = hostsTable.getByRole('row').filter({ has: page.getByRole('gridcell', { name: h2.name, exact: true }) });
  await h2Row.waitFor();
  assert.equal(await h2Row.locator('td[data-label="Pinned host key"]').innerText(), '—');
  await page.getByRole('button', { name: `Actions for ${h2.name}` }).click();
  await page.getByRole('menuitem', { name: 'Re-pin host key' }).click();
  dialog = page.getByRole('dialog', { name: `Re-pin the host key of ${h2.name}` });
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByRole('radio', { name: `ssh-ed25519 ${src2.fingerprint}` }).waitFor({ timeout: 30000 });
  const repin = dialog.getByRole('button', { name: 'Re-pin', exact: true });
  assert.equal(await repin.isDisabled(), true);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  await repin.click();
  await dialog.waitFor({ state: 'detached' });
  await h2Row.getByText(src2.fingerprint).waitFor();
  assert.equal((await engine.api('GET', `/hosts/${h2.id}`)).ssh_fingerprint, src2.fingerprint);
  await page.getByRole('button', { name: `Actions for ${h2.name}` }).click();
  await page.getByRole('menuitem', { name: 'Check' }).click();
  await page.getByText(`${h2.name} is reachable`).waitFor({ timeout: 60000 });
  await h2Row.getByText('Up', { exact: true }).waitFor();
  assert.equal((await engine.api('GET', `/hosts/${h2.id}`)).status, 'Up');

  // --- 3. Destination dst1: host key confirmed, keys copied, one-time password.
  await page.getByRole('tab', { name: 'Geo-Replication Destinations' }).click();
  await page.waitForURL(`**/clusters/${clusterId}/destinations`);
  await page.getByRole('heading', { name: 'No geo-replication destinations' }).waitFor();
  await page.getByRole('button', { name: 'New', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'New Geo-Replication Destination' });
  await dialog.getByLabel('Source host').selectOption(h1.id);
  await dialog.getByLabel('Destination host').fill(dst1.ip);
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByRole('radio', { name: `ssh-ed25519 ${dst1.fingerprint}` }).waitFor({ timeout: 30000 });
  assert.deepEqual(await dialog.locator('code.georep-fingerprint').allInnerTexts(), [dst1.fingerprint]);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  const copyKeys = dialog.getByRole('checkbox', { name: 'Copy source cluster hosts public keys to destination cluster' });
  assert.equal(await copyKeys.isChecked(), true);
  await dialog.getByLabel('One-time root password').fill(lab.rootPassword);
  await screenshot(page, 'gluster-destination-new');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByText(`Installing keys on ${dst1.ip}… (this can take a minute)`).waitFor();
  await dialog.waitFor({ state: 'detached', timeout: 180000 });
  // (An alert's title starts with its screen-reader variant: "Success alert:".)
  const ipRe = dst1.ip.replaceAll('.', '\\.');
  await page.getByText(new RegExp(`root@${ipRe} is attached$`)).waitFor();
  const destTable = page.getByRole('grid', { name: 'Geo-replication destinations' });
  const destRow = destTable.getByRole('row').filter({ has: page.getByRole('gridcell', { name: dst1.ip, exact: true }) });
  await destRow.getByText('Connected', { exact: true }).waitFor();
  const dests = (await engine.api('GET', `/clusters/${clusterId}/destinations`)).items;
  assert.equal(dests.length, 1);
  const dest = dests[0];
  assert.equal(dest.host, dst1.ip);
  assert.equal(dest.ssh_fingerprint, dst1.fingerprint);
  assert.equal(dest.source_host_id, h1.id);
  assert.equal(dest.connection, 'Connected', dest.connection_reason);
  assert.equal(JSON.stringify(engine.logs()).includes(lab.rootPassword), false, 'the password is not in the engine output');

  // Test: Connected, with the engine's warnings (Debian's rsync: the preflight points to tarssh).
  const tested = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/destinations/${dest.id}/test`), { timeout: 120000 });
  await page.getByRole('button', { name: `Actions for root@${dst1.ip}` }).click();
  await page.getByRole('menuitem', { name: 'Test' }).click();
  const answer = await (await tested).json();
  console.log(`destination test: ${answer.connection}; warnings: ${JSON.stringify(answer.warnings)}; problems: ${JSON.stringify(answer.problems)}`);
  assert.equal(answer.connection, 'Connected', JSON.stringify(answer));
  const outcome = page.getByText(new RegExp(`root@${ipRe} is Connected`));
  await outcome.waitFor();
  for (const w of answer.warnings) await page.getByText(`Warning: ${w}`, { exact: true }).waitFor();
  assert.ok(answer.warnings.some((w) => /rsync/.test(w) && /tarssh/.test(w)), `an rsync warning pointing to tarssh: ${JSON.stringify(answer.warnings)}`);
  await destRow.getByText('Connected', { exact: true }).waitFor();
  assert.equal((await engine.api('GET', `/destinations/${dest.id}`)).connection, 'Connected');
  await screenshot(page, 'gluster-destinations');

  // --- 4. A session gv0 -> gv2 from the volume's Geo-Replication Sessions tab.
  await page.getByRole('tab', { name: 'Volumes' }).click();
  await page.getByRole('grid', { name: 'Volumes' }).getByRole('link', { name: 'gv0', exact: true }).click();
  await page.waitForURL(`**/volumes/${gv0.id}/sessions`);
  await page.getByText('No geo-replication sessions').waitFor();
  await page.getByRole('button', { name: 'New', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'New Geo-Replication Session' });
  await dialog.getByLabel('Destination host').selectOption(dest.id);
  const candidates = dialog.getByRole('grid', { name: 'Destination volumes' });
  await candidates.getByRole('gridcell', { name: 'gv2', exact: true }).waitFor({ timeout: 60000 });
  assert.equal(await candidates.getByRole('gridcell', { name: 'gv1', exact: true }).count(), 0, 'gv1 is not listed as eligible');
  assert.equal(await candidates.getByRole('row').count(), 2, 'a header and gv2');
  await dialog.getByRole('checkbox', { name: 'Show all volumes' }).check({ force: true });
  const gv1Row = candidates.getByRole('row').filter({ has: page.getByRole('gridcell', { name: 'gv1', exact: true }) });
  await gv1Row.waitFor();
  const gv1Reason = await gv1Row.locator('td[data-label="Eligibility"]').innerText();
  assert.match(gv1Reason, /not-empty/, gv1Reason);
  assert.match(gv1Reason, /already-here/, gv1Reason);
  await candidates.getByRole('radio', { name: 'Choose gv2' }).check();
  await screenshot(page, 'gluster-session-new');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 180000 });
  const listed = (await engine.api('GET', `/volumes/${gv0.id}/sessions`)).items;
  assert.equal(listed.length, 1);
  const session = listed[0];
  assert.equal(session.destination_volume, 'gv2');
  assert.equal(session.destination_id, dest.id);
  assert.equal(session.status, 'Created');
  await page.getByText(`Session ${session.session_key} created`).waitFor();
  const sessions = page.getByRole('grid', { name: 'Geo-replication sessions' });
  const row = sessions.locator(`tr[data-session-id="${session.id}"]`);
  await row.getByText('Created', { exact: true }).waitFor();

  const act = async (item) => {
    await row.getByRole('button', { name: `Actions for ${session.session_key}` }).click();
    await page.getByRole('menuitem', { name: new RegExp(`^${item}`) }).click();
  };

  // Config: sync-method tarssh (Debian's rsync makes gsyncd write empty files).
  await act('Config');
  dialog = page.getByRole('dialog', { name: /^Config of/ });
  const smRow = dialog.locator('tr[data-config-key="sync-method"]');
  await smRow.getByRole('button', { name: 'Edit sync-method', exact: true }).click({ timeout: 60000 });
  await smRow.getByLabel('Value of sync-method').selectOption('tarssh');
  await smRow.getByRole('button', { name: 'Save sync-method', exact: true }).click();
  await smRow.getByText('Modified').waitFor({ timeout: 60000 });
  const cfg = await engine.api('GET', `/sessions/${session.id}/config`);
  assert.equal(cfg.items.find((i) => i.key === 'sync-method').value, 'tarssh');
  assert.equal(onNode('src1', ['/usr/sbin/gluster', '--mode=script', 'volume', 'geo-replication', 'gv0', `${dst1.ip}::gv2`, 'config', 'sync-method']).split('\n')[0], 'tarssh');
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });

  // --- 5. Start: Active, and one Active and one Passive node, without a reload.
  await page.evaluate(() => (window.__noReload = true));
  await act('Start');
  dialog = page.getByRole('dialog', { name: 'Start session?' });
  await dialog.getByRole('button', { name: 'Start', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 120000 });
  const started = Date.now();
  await row.getByRole('button', { name: `Nodes of ${session.session_key}` }).click();
  const nodesTable = page.getByRole('grid', { name: `Nodes of ${session.session_key}` });
  // A status cell: the label, then the reason (if any) beneath it.
  const statusesIn = async (table) => sorted((await table.locator('td[data-label="Status"]').allInnerTexts()).map((s) => s.trim().split('\n')[0].trim()));
  const uiNodeStatuses = () => statusesIn(nodesTable);
  let ui = [];
  await until('one Active and one Passive node in the table', async () => {
    ui = await uiNodeStatuses();
    return JSON.stringify(ui) === JSON.stringify(['Active', 'Passive']);
  }, 120000, 500, () => ui);
  console.log(`Active/Passive in the table after ${Math.round((Date.now() - started) / 1000)} s`);
  await row.locator('td[data-label="Status"]').getByText('Active', { exact: true }).waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  let api = null;
  const running = await until('the API to agree', async () => {
    api = await engine.api('GET', `/sessions/${session.id}`);
    return api.status === 'Active' && JSON.stringify(sorted(api.nodes.map((n) => n.status))) === '["Active","Passive"]' ? api : null;
  }, 30000, 500, () => api && { status: api.status, nodes: api.nodes.map((n) => n.status) });
  assert.equal(running.nodes.length, 2);
  assert.deepEqual(sorted(running.nodes.map((n) => n.source_host)), sorted([h1.name, h2.name]));
  await screenshot(page, 'gluster-sessions');

  // The session's page: its nodes.
  await row.getByRole('link', { name: session.session_key }).click();
  await page.waitForURL(`**/sessions/${session.id}`);
  const nodeTable = page.getByRole('grid', { name: 'Session nodes' });
  await until('Active and Passive on the session page', async () =>
    JSON.stringify(await statusesIn(nodeTable)) === '["Active","Passive"]', 60000);
  for (const h of [h1, h2]) await nodeTable.getByRole('gridcell', { name: h.name, exact: true }).waitFor();
  await page.getByRole('region', { name: 'Lag chart' }).waitFor({ timeout: 30000 });
  await screenshot(page, 'gluster-session-details');

  // --- 6. Stop, then Remove, from the volume's table.
  await page.getByRole('link', { name: 'gv0', exact: true }).first().click();
  await page.waitForURL(`**/volumes/${gv0.id}/sessions`);
  await act('Stop');
  dialog = page.getByRole('dialog', { name: 'Stop session?' });
  await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 120000 });
  await row.locator('td[data-label="Status"]').getByText('Stopped', { exact: true }).waitFor({ timeout: 60000 });
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Stopped');

  await act('Remove');
  dialog = page.getByRole('dialog', { name: 'Remove session?' });
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 120000 });
  await row.waitFor({ state: 'detached' });
  await page.getByText('No geo-replication sessions').waitFor();
  assert.deepEqual((await engine.api('GET', `/volumes/${gv0.id}/sessions`)).items, []);
  await assert.rejects(engine.api('GET', `/sessions/${session.id}`), /404/);

  assert.deepEqual(consoleErrors, []);
  passed = true;
  console.log(`gluster console flow done in ${Math.round((Date.now() - t0) / 1000)} s`);
});
