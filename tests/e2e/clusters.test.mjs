// Clusters, a cluster's hosts and volumes, and its geo-replication destinations, driven through
// the console against a real engine; every effect is checked through the REST API as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, screenshot, startEngine, waitForValue } from './harness.mjs';

// A loopback port where nothing listens: bound, then closed.
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// A private sshd on a free loopback port with its own ed25519 host key (nobody can log in: no
// authorized key). rotate() gives it a new host key. Its fingerprint as ssh-keygen prints it.
async function startSshd() {
  const dir = mkdtempSync(path.join(tmpdir(), 'georep-e2e-sshd-'));
  const key = path.join(dir, 'host_ed25519');
  const keygen = () => {
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    return execFileSync('ssh-keygen', ['-lf', `${key}.pub`]).toString().split(' ')[1];
  };
  const port = await closedPort();
  writeFileSync(path.join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${key}`, `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'UsePAM no', 'LogLevel ERROR', '',
  ].join('\n'));
  mkdirSync('/run/sshd', { recursive: true });
  let child;
  const launch = async () => {
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise((r) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
        s.on('error', () => r(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('sshd did not start');
  };
  const stop = async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  };
  const sshd = { port, fingerprint: keygen() };
  await launch();
  sshd.rotate = async () => {
    await stop();
    sshd.fingerprint = keygen();
    await launch();
  };
  sshd.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return sshd;
}

test('clusters: create through the dialog, hosts, volumes, destinations (new, test, re-establish, remove with force), live, keyboard', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  await login(page, engine);
  await page.goto(`${engine.url}/clusters`);
  await page.getByRole('heading', { name: 'No clusters yet' }).waitFor();

  // Keyboard: the "New cluster" button opens its dialog with Enter; Escape closes it and gives
  // the focus back to the button.
  const newCluster = page.getByRole('button', { name: 'New cluster', exact: true });
  await newCluster.focus();
  await page.keyboard.press('Enter');
  let dialog = page.getByRole('dialog', { name: 'New cluster', exact: true });
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.activeElement?.textContent === 'New cluster', null, { timeout: 5000 });

  // A name the engine would refuse: said on the field itself as it is typed, Create disabled.
  await newCluster.click();
  dialog = page.getByRole('dialog', { name: 'New cluster', exact: true });
  const nameField = dialog.getByRole('textbox', { name: 'Name', exact: true });
  await nameField.fill('bad host!');
  const nameHelp = dialog.locator('#cluster-name-helper');
  await nameHelp.getByText('Only letters, digits, “.”, “-” and “_”.').waitFor();
  assert.equal(await nameField.getAttribute('aria-invalid'), 'true');
  assert.equal(await nameField.getAttribute('aria-describedby'), 'cluster-name-helper');
  assert.equal(await dialog.getByRole('button', { name: 'Create', exact: true }).isDisabled(), true);
  // What only the engine checks (a description of more than 1024 characters): the engine names
  // the field, so its words are on the Description field (not in an alert), and the dialog
  // stays open with what was typed.
  await nameField.fill('lab');
  const description = dialog.getByLabel('Description');
  await description.fill('x'.repeat(1025));
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.locator('#cluster-description-helper').getByText('description must be at most 1024 characters').waitFor();
  assert.equal(await description.getAttribute('aria-invalid'), 'true');
  assert.equal(await dialog.locator('.pf-v5-c-alert').filter({ hasText: 'The cluster was not created' }).count(), 0);
  assert.equal(await nameField.inputValue(), 'lab');
  assert.deepEqual((await engine.api('GET', '/clusters')).items, []);
  await dialog.getByRole('radio', { name: /Import a Gluster cluster/ }).check();
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Import', exact: true }).isDisabled(), true, 'import needs a confirmed host key');
  // Ports 0 and 99999: on the field.
  for (const bad of ['0', '99999']) {
    await dialog.getByLabel('SSH port').fill(bad);
    await dialog.locator('#cluster-port-helper').getByText('A port from 1 to 65535.').waitFor();
  }
  await dialog.getByLabel('SSH port').fill('22');
  await dialog.locator('#cluster-port-helper').waitFor({ state: 'detached' });
  // A host that does not trust the engine yet: a one-time password, never echoed.
  assert.equal(await dialog.getByLabel('One-time password').getAttribute('type'), 'password');
  await screenshot(page, 'cluster-new');
  await expectAccessible(page, 'cluster-new');
  await dialog.getByRole('radio', { name: /empty cluster/ }).check();
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('lab');
  await dialog.getByLabel('Description').fill('directory volumes on this machine');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('heading', { name: 'Cluster lab' }).waitFor();
  const clusters = (await engine.api('GET', '/clusters')).items;
  assert.equal(clusters.length, 1);
  assert.equal(clusters[0].name, 'lab');
  assert.equal(clusters[0].description, 'directory volumes on this machine');
  const clusterId = clusters[0].id;
  assert.equal(new URL(page.url()).pathname, `/clusters/${clusterId}/hosts`);

  // Hosts: a local host through the dialog, then Check. An address typed for SSH before the
  // switch to Local is not kept: a local host is localhost.
  await page.getByRole('button', { name: 'Add host', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Add host', exact: true });
  await dialog.getByLabel('Address').fill('nonexistent.invalid');
  await dialog.getByLabel('Transport').selectOption('local');
  assert.equal(await dialog.getByLabel('Address').inputValue(), 'localhost');
  assert.equal(await dialog.getByLabel('Address').getAttribute('readonly'), '');
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('localhost');
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  const hostsTable = page.getByRole('grid', { name: 'Hosts' });
  await hostsTable.getByRole('row', { name: /localhost/ }).waitFor();
  const hosts = (await engine.api('GET', `/clusters/${clusterId}/hosts`)).items;
  assert.equal(hosts.length, 1);
  assert.equal(hosts[0].transport, 'local');
  assert.equal(hosts[0].address, 'localhost');
  const hostId = hosts[0].id;
  await page.getByRole('button', { name: 'Actions for localhost', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Check', exact: true }).click();
  await page.getByText('localhost is reachable').waitFor();
  await hostsTable.getByText('Up', { exact: true }).waitFor();
  const checked = await engine.api('GET', `/hosts/${hostId}`);
  assert.equal(checked.status, 'Up');
  assert.ok(checked.last_seen);
  await screenshot(page, 'cluster-hosts');
  await expectAccessible(page, 'cluster-hosts');

  // Volumes: a directory volume through the dialog.
  const volDir = path.join(engine.dataDir, 'volumes', 'src');
  await page.getByRole('tab', { name: 'Volumes', exact: true }).click();
  await page.waitForURL(`**/clusters/${clusterId}/volumes`);
  await page.getByRole('button', { name: 'Add directory volume', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Add directory volume', exact: true });
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('src');
  // A relative path: on the field, Add disabled.
  const pathField = dialog.getByLabel('Path');
  const pathHelp = dialog.locator('#volume-path-helper');
  await pathField.fill('data/src');
  await pathHelp.getByText('An absolute path (starting with /).').waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Add', exact: true }).isDisabled(), true);
  // A path the console cannot fault but the host does not have: the engine asks the host and
  // refuses on "path"; its words are on the Path field, not in an alert, and the dialog stays.
  assert.equal(existsSync(volDir), false);
  await pathField.fill(volDir);
  assert.equal(await pathField.getAttribute('aria-invalid'), 'false');
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await pathHelp.getByText(`${volDir} does not exist on host localhost; create the directory first`).waitFor();
  assert.equal(await pathField.getAttribute('aria-invalid'), 'true');
  assert.equal(await dialog.locator('.pf-v5-c-alert').count(), 0);
  assert.deepEqual((await engine.api('GET', `/clusters/${clusterId}/volumes`)).items, []);
  await expectAccessible(page, 'add-volume-path-refused');
  // The directory created, the same path is taken.
  mkdirSync(volDir, { recursive: true });
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  const volumeLink = page.getByRole('grid', { name: 'Volumes' }).getByRole('link', { name: 'src', exact: true });
  await volumeLink.waitFor();
  const volumes = (await engine.api('GET', `/clusters/${clusterId}/volumes`)).items;
  assert.equal(volumes.length, 1);
  assert.equal(volumes[0].kind, 'directory');
  assert.deepEqual(volumes[0].bricks, [{ host_id: hostId, path: volDir }]);
  assert.equal(await volumeLink.getAttribute('href'), `/volumes/${volumes[0].id}`);
  await page.getByRole('grid', { name: 'Volumes' }).getByText(`localhost:${volDir}`).waitFor();
  await screenshot(page, 'cluster-volumes');
  await expectAccessible(page, 'cluster-volumes');

  // Destinations: the tab is in the URL.
  await page.getByRole('tab', { name: 'Geo-Replication Destinations', exact: true }).click();
  await page.waitForURL(`**/clusters/${clusterId}/destinations`);
  await page.getByRole('heading', { name: 'No geo-replication destinations' }).waitFor();

  // "New" from the keyboard; Escape closes.
  await page.getByRole('button', { name: 'New', exact: true }).focus();
  await page.keyboard.press('Enter');
  dialog = page.getByRole('dialog', { name: 'New Geo-Replication Destination' });
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'New', exact: true }).click();
  await dialog.waitFor();
  await waitForValue(dialog.getByLabel('Source host'), hostId);  // once the hosts have loaded
  // A cluster of directory volumes: gluster's key exchange (gsec_create, push-pem) is not offered.
  assert.equal(await dialog.getByRole('checkbox', { name: /Copy source cluster hosts public keys/ }).count(), 0);
  assert.equal(await dialog.getByLabel('SSH port').inputValue(), '22');
  assert.equal(await dialog.getByLabel('User', { exact: true }).inputValue(), 'root');
  // A host name the engine would refuse: on the field; no key is fetched for it.
  await dialog.getByLabel('Destination host').fill('bad host!');
  await dialog.locator('#dest-host-helper').getByText(/Only letters, digits, “-” and “.”/).waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).isDisabled(), true);
  // No ssh server on the port: the engine says so, in the dialog; Create stays disabled.
  const port = await closedPort();
  await dialog.getByLabel('Destination host').fill('127.0.0.1');
  await dialog.getByLabel('SSH port').fill(String(port));
  await dialog.getByLabel('One-time root password').fill('secret-once');
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByText(`no SSH host key from 127.0.0.1 port ${port}`).waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Create', exact: true }).isDisabled(), true);
  await screenshot(page, 'destination-new');
  await expectAccessible(page, 'destination-new');
  // A local destination: no SSH, so no key, port or password.
  await dialog.getByRole('checkbox', { name: 'This destination is this machine (directory volumes, no SSH)' }).check();
  assert.equal(await dialog.getByLabel('SSH port').count(), 0);
  assert.equal(await dialog.getByLabel('One-time root password').count(), 0);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  const destTable = page.getByRole('grid', { name: 'Geo-replication destinations' });
  const rowOf = (user) => destTable.getByRole('row').filter({ has: page.getByRole('gridcell', { name: user, exact: true }) });
  const row = rowOf('root');
  await row.waitFor();
  let dests = (await engine.api('GET', `/clusters/${clusterId}/destinations`)).items;
  assert.equal(dests.length, 1);
  assert.equal(dests[0].host, 'localhost');
  assert.equal(dests[0].remote_user, 'root');
  assert.equal(dests[0].ssh_fingerprint, '');
  assert.equal(dests[0].source_host_id, hostId);
  const destId = dests[0].id;
  await row.getByText('Unknown').waitFor();
  await screenshot(page, 'destinations');
  await expectAccessible(page, 'destinations');

  // Test. A destination on this machine (no ssh): the engine checks its sessions' directories
  // (none yet), so it is Connected.
  await page.getByRole('button', { name: 'Actions for root@localhost', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Test', exact: true }).click();
  await page.getByText('root@localhost is Connected').waitFor();
  await row.getByText('Connected', { exact: true }).waitFor();
  await row.getByText('just now').waitFor();
  const afterTest = await engine.api('GET', `/destinations/${destId}`);
  assert.equal(afterTest.connection, 'Connected');
  assert.equal(afterTest.connection_reason, '');
  assert.ok(afterTest.last_checked);

  // A session whose replica directory cannot be created: Test says Broken, and why.
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const stuck = await engine.api('POST', '/sessions', {
    destination_id: destId, source_volume_id: volumes[0].id, destination_volume: path.join(blocker, 'replica'),
  });
  await page.getByRole('button', { name: 'Actions for root@localhost', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Test', exact: true }).click();
  await page.getByText('root@localhost is Broken').waitFor();
  await row.getByText('Broken', { exact: true }).waitFor();
  await row.getByText(/cannot be created in .*not-a-dir/).first().waitFor();
  const broken = await engine.api('GET', `/destinations/${destId}`);
  assert.equal(broken.connection, 'Broken');
  assert.match(broken.connection_reason, /does not exist and cannot be created/);
  await engine.api('DELETE', `/sessions/${stuck.id}`);

  // A destination on this machine has no keys to re-establish: offered, disabled, saying why.
  await page.getByRole('button', { name: 'Actions for root@localhost', exact: true }).click();
  const testItem = page.getByRole('menuitem', { name: 'Test', exact: true });
  await testItem.waitFor();
  const reestablish = page.getByRole('menuitem', { name: /^Re-establish/ });
  assert.equal(await reestablish.isDisabled(), true);
  assert.match(await reestablish.innerText(), /This machine: no keys to exchange/);
  await screenshot(page, 'destination-actions-local');
  await expectAccessible(page, 'destination-actions-local');
  await page.keyboard.press('Escape');
  await testItem.waitFor({ state: 'detached' });

  // Live: a destination and a session created through the API appear without a reload.
  const replica = path.join(engine.dataDir, 'replicas', 'r1');
  await engine.api('POST', '/sessions', { destination_id: destId, source_volume_id: volumes[0].id, destination_volume: replica });
  const other = await engine.api('POST', `/clusters/${clusterId}/destinations`, { source_host_id: hostId, host: 'localhost', remote_user: 'geo' });
  await rowOf('geo').waitFor();
  try {
    await row.getByRole('gridcell', { name: '1', exact: true }).waitFor(); // its session count
  } catch (e) {
    console.log(await destTable.ariaSnapshot());
    throw e;
  }

  // Remove: refused while a session uses it (the engine's words, in the dialog), then forced.
  await page.getByRole('button', { name: 'Actions for root@localhost', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Remove', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Remove destination root@localhost?' });
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.getByText('destination root@localhost is used by 1 session(s); remove them first or use force').waitFor();
  assert.equal((await engine.api('GET', `/clusters/${clusterId}/destinations`)).items.length, 2);
  await dialog.getByRole('button', { name: 'Remove anyway (force)', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.waitFor({ state: 'detached' });
  dests = (await engine.api('GET', `/clusters/${clusterId}/destinations`)).items;
  assert.deepEqual(dests.map((d) => d.id), [other.id]);
  assert.deepEqual((await engine.api('GET', '/sessions')).items, []);

  // The removal of the other one through the API also shows at once.
  await engine.api('DELETE', `/destinations/${other.id}`);
  await page.getByRole('heading', { name: 'No geo-replication destinations' }).waitFor();

  // The clusters list: counts, and Remove refused while the cluster has volumes... or not:
  // the engine decides; the dialog shows its answer.
  await page.getByRole('link', { name: 'Clusters', exact: true }).first().click();
  const clusterRow = page.getByRole('grid', { name: 'Clusters' }).getByRole('row', { name: /lab/ });
  await clusterRow.waitFor();
  assert.deepEqual(
    await clusterRow.getByRole('gridcell').allInnerTexts().then((c) => c.slice(0, 5)),
    ['lab', 'directory volumes on this machine', '1', '1', '0'],
  );
  await screenshot(page, 'clusters');
  await expectAccessible(page, 'clusters');
  await page.getByRole('button', { name: 'Actions for lab', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Remove', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Remove cluster lab?' });
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('heading', { name: 'No clusters yet' }).waitFor();
  assert.deepEqual((await engine.api('GET', '/clusters')).items, []);

  assert.deepEqual(consoleErrors, []);
});

test('destinations and hosts over ssh: the host key fetched and confirmed, copy keys failing honestly, re-establish with a changed key, re-pin', { skip: !existsSync('/usr/sbin/sshd') && 'no sshd' }, async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const sshd = await startSshd();
  t.after(() => sshd.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  const setup = await directorySetup(engine);
  await engine.api('DELETE', `/destinations/${setup.destination.id}`);
  // A Gluster volume on record makes the cluster a Gluster cluster, as the engine decides (its
  // destinations get gluster's key exchange): the console offers Copy keys and Re-establish.
  await engine.api('POST', `/clusters/${setup.cluster.id}/volumes`, {
    name: 'gv0', kind: 'gluster', bricks: [{ host_id: setup.host.id, path: '/bricks/gv0' }],
  });
  await login(page, engine);
  await page.goto(`${engine.url}/clusters/${setup.cluster.id}/destinations`);
  await page.getByRole('heading', { name: 'No geo-replication destinations' }).waitFor();

  await page.getByRole('button', { name: 'New', exact: true }).click();
  let dialog = page.getByRole('dialog', { name: 'New Geo-Replication Destination' });
  // Gluster volumes are not replicated to this machine without ssh: not offered here.
  await waitForValue(dialog.getByLabel('Source host'), setup.host.id);
  assert.equal(await dialog.getByRole('checkbox', { name: /This destination is this machine/ }).count(), 0);
  await dialog.getByLabel('Destination host').fill('127.0.0.1');
  await dialog.getByLabel('SSH port').fill(String(sshd.port));
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  // The key's type and fingerprint, as ssh-keygen prints it; nothing counts before it is confirmed.
  const keyRadio = dialog.getByRole('radio', { name: `ssh-ed25519 ${sshd.fingerprint}` });
  await keyRadio.waitFor();
  assert.equal(await keyRadio.isChecked(), true);
  const create = dialog.getByRole('button', { name: 'Create', exact: true });
  assert.equal(await create.isDisabled(), true);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  assert.equal(await create.isDisabled(), false);
  await screenshot(page, 'destination-new-key');
  await expectAccessible(page, 'destination-new-key');
  // Copying the keys needs gluster on the source host (gsec_create): here it fails, and the
  // engine keeps the destination, Broken, with the reason.
  assert.equal(await dialog.getByRole('checkbox', { name: 'Copy source cluster hosts public keys to destination cluster' }).isChecked(), true);
  await create.click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByText('root@127.0.0.1 is attached, but its keys were not installed').waitFor();
  const [d] = (await engine.api('GET', `/clusters/${setup.cluster.id}/destinations`)).items;
  assert.equal(d.host, '127.0.0.1');
  assert.equal(d.ssh_port, sshd.port);
  assert.equal(d.ssh_fingerprint, sshd.fingerprint);
  assert.equal(d.connection, 'Broken');
  assert.ok(d.connection_reason);
  const table = page.getByRole('grid', { name: 'Geo-replication destinations' });
  await table.getByText(sshd.fingerprint).waitFor();
  await table.getByText('Broken', { exact: true }).waitFor();

  // Re-establish with the same key: no confirmation needed; the engine's failure stays in the dialog.
  await page.getByRole('button', { name: 'Actions for root@127.0.0.1', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Re-establish', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Re-establish root@127.0.0.1' });
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByText('The host offers the pinned key').waitFor();
  await dialog.getByRole('button', { name: 'Re-establish', exact: true }).click();
  await dialog.getByText('The keys were not re-established').waitFor();
  assert.equal(await dialog.isVisible(), true);

  // The host key changes: the dialog says so and wants a confirmation; the new key is pinned.
  await sshd.rotate();
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByText('The host key changed: it does not match the pinned one').waitFor();
  const go = dialog.getByRole('button', { name: 'Re-establish', exact: true });
  assert.equal(await go.isDisabled(), true);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  await screenshot(page, 'destination-reestablish');
  await expectAccessible(page, 'destination-reestablish');
  await go.click();
  await dialog.getByText('The keys were not re-established').waitFor();
  const after = await engine.api('GET', `/destinations/${d.id}`);
  assert.equal(after.ssh_fingerprint, sshd.fingerprint);
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await table.getByText(sshd.fingerprint).waitFor();
  const events = (await engine.api('GET', `/events?object_id=${d.id}&action=destination.repin`)).items;
  assert.equal(events.length, 1);

  // A host over ssh: added with its confirmed key; after the key changes, Re-pin (with its warning).
  await page.getByRole('tab', { name: 'Hosts', exact: true }).click();
  await page.getByRole('button', { name: 'Add host', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Add host', exact: true });
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('node1');
  await dialog.getByLabel('Address').fill('127.0.0.1');
  await dialog.getByLabel('SSH port').fill(String(sshd.port));
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByRole('radio', { name: `ssh-ed25519 ${sshd.fingerprint}` }).waitFor();
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  const hosts = (await engine.api('GET', `/clusters/${setup.cluster.id}/hosts`)).items;
  const node1 = hosts.find((h) => h.name === 'node1');
  assert.equal(node1.transport, 'ssh');
  assert.equal(node1.ssh_port, sshd.port);
  assert.equal(node1.ssh_fingerprint, sshd.fingerprint);
  const old = sshd.fingerprint;
  await sshd.rotate();
  await page.getByRole('button', { name: 'Actions for node1', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Re-pin host key', exact: true }).click();
  dialog = page.getByRole('dialog', { name: 'Re-pin the host key of node1' });
  await dialog.getByText('Only after the host key really changed').waitFor();
  await dialog.getByRole('button', { name: 'Fetch host key', exact: true }).click();
  await dialog.getByText('The host key changed: it does not match the pinned one').waitFor();
  const repin = dialog.getByRole('button', { name: 'Re-pin', exact: true });
  assert.equal(await repin.isDisabled(), true);
  await dialog.getByRole('checkbox', { name: 'I have checked this fingerprint' }).check();
  await screenshot(page, 'host-repin');
  await expectAccessible(page, 'host-repin');
  await repin.click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('grid', { name: 'Hosts' }).getByText(sshd.fingerprint).waitFor();
  assert.notEqual(old, sshd.fingerprint);
  assert.equal((await engine.api('GET', `/hosts/${node1.id}`)).ssh_fingerprint, sshd.fingerprint);

  assert.deepEqual(consoleErrors, []);
});
