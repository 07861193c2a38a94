// Roles in the console, end to end against a real engine: the masthead shows who is logged in
// and their role; every action the role does not allow is there but disabled, its accessible
// description (and tooltip, or the menu item's description) saying which role it needs. A viewer
// reads everything and runs nothing; an operator runs sessions (start, stop, checkpoint, verify),
// checks hosts and tests destinations, but creates, removes and configures nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, openMenu, screenshot, startEngine } from './harness.mjs';

const NEEDS_OPERATOR = 'Needs the operator role';
const NEEDS_ADMIN = 'Needs the admin role';

// The button `name`, aria-disabled, whose accessible description is `reason`.
const disabledButton = (scope, name, reason) =>
  scope.getByRole('button', { name, exact: true, description: reason, disabled: true });
const enabledButton = (scope, name) => scope.getByRole('button', { name, exact: true, disabled: false });

// Opens the row menu behind `toggle`, checks each item (title -> the reason it is disabled, or
// null: enabled), and closes the menu.
async function checkMenu(page, toggle, expected) {
  const first = Object.keys(expected)[0];
  await openMenu(page, toggle, new RegExp(`^${first}`));
  for (const [title, reason] of Object.entries(expected)) {
    const item = page.getByRole('menuitem', { name: new RegExp(`^${title}(?![a-z-])`) });
    const disabled = await item.getAttribute('aria-disabled');
    if (reason) {
      assert.equal(disabled, 'true', `${title} is disabled`);
      assert.ok((await item.innerText()).includes(reason), `${title} says "${reason}": ${await item.innerText()}`);
    } else {
      assert.notEqual(disabled, 'true', `${title} is enabled`);
      assert.ok(!(await item.innerText()).includes('role'), `${title} asks for no role: ${await item.innerText()}`);
    }
  }
  await page.keyboard.press('Escape');
  await page.getByRole('menu').waitFor({ state: 'detached' });
}

async function logout(page) {
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
}

test('a viewer and an operator see the actions their role does not allow, disabled with the reason', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['source'] });
  const vol = setup.volumes.source;
  const session = await engine.api('POST', '/sessions', {
    destination_id: setup.destination.id, source_volume_id: vol.id,
    destination_volume: path.join(engine.dataDir, 'replica-roles'),
  });
  const users = {
    viewer: { username: 'vera', password: 'vera-viewer-password', role: 'viewer' },
    operator: { username: 'otto', password: 'otto-operator-password', role: 'operator' },
  };
  for (const u of Object.values(users)) {
    const created = await engine.api('POST', '/users', { name: u.username, password: u.password, role: u.role });
    assert.equal(created.role, u.role);
  }

  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  t.after(async () => {
    await screenshot(page, 'roles-last').catch(() => {});
  });

  const sessionsUrl = `${engine.url}/volumes/${vol.id}/sessions`;
  const sessionRow = page.getByRole('grid', { name: 'Geo-replication sessions' }).locator(`tr[data-session-id="${session.id}"]`);
  const sessionMenu = () => sessionRow.getByRole('button', { name: `Actions for ${session.session_key}`, exact: true });

  // --- An administrator: nothing is held back.
  await login(page, engine);
  await page.locator('.georep-user').getByText('admin (admin)', { exact: true }).waitFor();
  // Login lands on the Overview; the clusters are one click away.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
  await enabledButton(page, 'New cluster').waitFor();
  assert.equal(await page.getByRole('button', { name: 'New cluster', exact: true }).getAttribute('aria-describedby'), null);
  await logout(page);

  // --- A viewer
  await login(page, { url: engine.url, ...users.viewer });
  await page.locator('.georep-user').getByText('vera (viewer)', { exact: true }).waitFor();
  // Login lands on the Overview; the clusters are one click away.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
  const newCluster = disabledButton(page, 'New cluster', NEEDS_ADMIN);
  await newCluster.waitFor();
  // The tooltip says it too.
  await newCluster.hover();
  await page.getByRole('tooltip').filter({ hasText: NEEDS_ADMIN }).waitFor();
  // A click does nothing.
  await newCluster.click({ force: true });
  assert.equal(await page.getByRole('dialog').count(), 0);
  await checkMenu(page, page.getByRole('button', { name: 'Actions for lab', exact: true }), { Open: null, Remove: NEEDS_ADMIN });
  await screenshot(page, 'roles-viewer-clusters');
  await expectAccessible(page, 'roles-viewer-clusters');

  // The cluster's tabs.
  await page.getByRole('link', { name: 'lab', exact: true }).click();
  await disabledButton(page, 'Add host', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for localhost', exact: true }), {
    Check: NEEDS_OPERATOR, 'Re-pin host key': NEEDS_ADMIN, Remove: NEEDS_ADMIN,
  });
  await page.getByRole('tab', { name: 'Volumes', exact: true }).click();
  await disabledButton(page, 'Add directory volume', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for source', exact: true }), { Remove: NEEDS_ADMIN });
  await page.getByRole('tab', { name: 'Geo-Replication Destinations', exact: true }).click();
  await disabledButton(page, 'New', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for root@localhost', exact: true }), {
    Test: NEEDS_OPERATOR, 'Re-establish': NEEDS_ADMIN, Remove: NEEDS_ADMIN,
  });

  // The volume's sessions: the session's actions need an operator, New and Remove an admin;
  // Config opens, read-only.
  await page.goto(sessionsUrl);
  await sessionRow.getByText('Created').waitFor();
  await disabledButton(page, 'New', NEEDS_ADMIN).waitFor();
  await checkMenu(page, sessionMenu(), {
    Start: NEEDS_OPERATOR, Stop: NEEDS_OPERATOR, Pause: NEEDS_OPERATOR, Resume: NEEDS_OPERATOR,
    Remove: NEEDS_ADMIN, Config: null, 'Set checkpoint': NEEDS_OPERATOR, Verify: NEEDS_OPERATOR,
  });
  await (await openMenu(page, sessionMenu(), /^Config/)).click();
  let dialog = page.getByRole('dialog', { name: /^Config of/ });
  await dialog.getByText('Read-only: changing an option needs the admin role.').waitFor();
  await disabledButton(dialog, 'Edit rescan-interval', NEEDS_ADMIN).waitFor();
  await disabledButton(dialog, 'Reset rescan-interval', NEEDS_ADMIN).waitFor();
  await disabledButton(dialog, 'Edit checkpoint', NEEDS_OPERATOR).waitFor();
  await screenshot(page, 'roles-viewer-config');
  await expectAccessible(page, 'roles-viewer-config');
  await dialog.getByRole('button', { name: 'Close', exact: true }).first().click();
  await dialog.waitFor({ state: 'detached' });

  // The session's page.
  await sessionRow.getByRole('link', { name: session.session_key }).click();
  await page.waitForURL(`**/sessions/${session.id}`);
  const toolbar = page.getByRole('toolbar', { name: 'Session actions' }).or(page.locator('[aria-label="Session actions"]'));
  for (const name of ['Start', 'Stop', 'Pause', 'Resume', 'Set checkpoint', 'Verify']) {
    await disabledButton(toolbar, name, NEEDS_OPERATOR).waitFor();
  }
  await disabledButton(toolbar, 'Remove', NEEDS_ADMIN).waitFor();
  await enabledButton(toolbar, 'Config').waitFor();
  await screenshot(page, 'roles-viewer-session');
  await expectAccessible(page, 'roles-viewer-session');
  await logout(page);

  // --- An operator
  await login(page, { url: engine.url, ...users.operator });
  await page.locator('.georep-user').getByText('otto (operator)', { exact: true }).waitFor();
  // Login lands on the Overview; the clusters are one click away.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
  await disabledButton(page, 'New cluster', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for lab', exact: true }), { Open: null, Remove: NEEDS_ADMIN });

  // Hosts: Check is theirs (and works), the rest an admin's.
  await page.getByRole('link', { name: 'lab', exact: true }).click();
  await disabledButton(page, 'Add host', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for localhost', exact: true }), {
    Check: null, 'Re-pin host key': NEEDS_ADMIN, Remove: NEEDS_ADMIN,
  });
  await (await openMenu(page, page.getByRole('button', { name: 'Actions for localhost', exact: true }), /^Check/)).click();
  await page.getByText('localhost is reachable').waitFor();
  await page.getByRole('tab', { name: 'Geo-Replication Destinations', exact: true }).click();
  await disabledButton(page, 'New', NEEDS_ADMIN).waitFor();
  await checkMenu(page, page.getByRole('button', { name: 'Actions for root@localhost', exact: true }), {
    Test: null, Remove: NEEDS_ADMIN,
  });

  // Sessions: the lifecycle is theirs (by status), creating and removing an admin's.
  await page.goto(sessionsUrl);
  await sessionRow.getByText('Created').waitFor();
  await disabledButton(page, 'New', NEEDS_ADMIN).waitFor();
  await checkMenu(page, sessionMenu(), {
    Start: null, Remove: NEEDS_ADMIN, Config: null, 'Set checkpoint': null, Verify: null,
  });
  // Stop and Pause stay disabled for what the session's status is, not for the role.
  await openMenu(page, sessionMenu(), /^Stop/);
  const stop = page.getByRole('menuitem', { name: /^Stop/ });
  assert.equal(await stop.getAttribute('aria-disabled'), 'true');
  assert.match(await stop.innerText(), /it is not started/);
  await page.keyboard.press('Escape');
  await page.getByRole('menu').waitFor({ state: 'detached' });

  // Config: the checkpoint may be edited, nothing else; nothing may be reset.
  await (await openMenu(page, sessionMenu(), /^Config/)).click();
  dialog = page.getByRole('dialog', { name: /^Config of/ });
  await dialog.getByText('Read-only but for the checkpoint: changing the other options needs the admin role.').waitFor();
  await disabledButton(dialog, 'Edit rescan-interval', NEEDS_ADMIN).waitFor();
  await disabledButton(dialog, 'Reset checkpoint', NEEDS_ADMIN).waitFor();
  await enabledButton(dialog, 'Edit checkpoint').waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Edit checkpoint', exact: true }).getAttribute('aria-describedby'), null);
  await screenshot(page, 'roles-operator-config');
  await expectAccessible(page, 'roles-operator-config');
  await dialog.getByRole('button', { name: 'Close', exact: true }).first().click();
  await dialog.waitFor({ state: 'detached' });

  // Start it, from the session's page; then Stop.
  await sessionRow.getByRole('link', { name: session.session_key }).click();
  await page.waitForURL(`**/sessions/${session.id}`);
  await disabledButton(toolbar, 'Remove', NEEDS_ADMIN).waitFor();
  await enabledButton(toolbar, 'Config').waitFor();
  await enabledButton(toolbar, 'Set checkpoint').waitFor();
  await enabledButton(toolbar, 'Verify').waitFor();
  await enabledButton(toolbar, 'Start').click();
  dialog = page.getByRole('dialog', { name: 'Start session?' });
  await dialog.getByRole('button', { name: 'Start', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await enabledButton(toolbar, 'Stop').waitFor({ timeout: 30000 });
  assert.notEqual((await engine.api('GET', `/sessions/${session.id}`)).status, 'Created');
  await screenshot(page, 'roles-operator-session');
  await expectAccessible(page, 'roles-operator-session');
  await enabledButton(toolbar, 'Stop').click();
  dialog = page.getByRole('dialog', { name: 'Stop session?' });
  await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await enabledButton(toolbar, 'Start').waitFor({ timeout: 30000 });
  assert.equal((await engine.api('GET', `/sessions/${session.id}`)).status, 'Stopped');

  assert.deepEqual(consoleErrors, []);
});
