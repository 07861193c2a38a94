// Accessibility and day-to-day reading of the console, end to end against a real engine: axe-core
// finds no critical or serious violation on any page or dialog, in the light and in the dark
// theme; the theme follows the browser until the user picks one in the masthead, is remembered,
// and is on <html> before the console's script runs (no white flash); at 1024x768 the masthead's
// navigation toggle reaches every page; times read in the browser's zone, engine messages'
// UTC and nanosecond times included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, openMenu, screenshot, setTheme, startEngine, until } from './harness.mjs';

const ZONE = 'America/New_York';

// A session that has replicated (a difference found by verify: an alert whose message carries
// the engine's UTC time), and a destination test that fails (a firing alert for the drawer).
const REPLICA_MTIME = new Date('2026-01-02T03:04:05.500Z');

async function world(engine) {
  const setup = await directorySetup(engine, { volumes: ['source'] });
  const vol = setup.volumes.source;
  writeFileSync(path.join(vol.path, 'a.txt'), 'alpha\n');
  const replica = path.join(engine.dataDir, 'replica-a11y');
  const session = await engine.api('POST', '/sessions', {
    destination_id: setup.destination.id, source_volume_id: vol.id, destination_volume: replica,
  });
  await engine.api('POST', `/sessions/${session.id}/start`);
  await until('the file replicated', async () => {
    const v = await engine.api('POST', `/sessions/${session.id}/verify`);
    return v.identical;
  });
  writeFileSync(path.join(replica, 'a.txt'), 'changed\n');
  // A modification time the verify report names (in UTC, to the nanosecond).
  utimesSync(path.join(replica, 'a.txt'), REPLICA_MTIME, REPLICA_MTIME);
  const differs = await engine.api('POST', `/sessions/${session.id}/verify`);
  assert.equal(differs.identical, false);
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  await engine.api('POST', '/sessions', {
    destination_id: setup.destination.id, source_volume_id: vol.id, destination_volume: path.join(blocker, 'replica'),
  });
  await engine.api('POST', `/destinations/${setup.destination.id}/test`).catch(() => {});
  await until('the destination-broken alert', async () =>
    (await engine.api('GET', '/alerts?state=firing')).items.some((a) => a.rule === 'destination-broken'));
  // A notifier that takes critical alerts only, disabled: nothing is sent to its address.
  const notifier = await engine.api('POST', '/notifiers', {
    name: 'oncall', kind: 'email', url: 'smtps://mail.example.org:465', mail_from: 'georep@example.org',
    mail_to: 'oncall@example.org', min_severity: 'critical',
  });
  await engine.api('PUT', `/notifiers/${notifier.id}`, { enabled: false });
  return { ...setup, vol, session, replica, notifier };
}

// Opens the dialog `name` with `open`, checks it, closes it with Escape.
async function dialogCheck(page, what, name, open, inside) {
  await open();
  const dialog = page.getByRole('dialog', { name });
  await dialog.waitFor();
  if (inside) await inside(dialog);
  await expectAccessible(page, what);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
}

// Every page and dialog of the console, checked by axe in the current theme.
async function walk(page, engine, w, theme) {
  const t = (s) => `${s} (${theme})`;
  await page.goto(`${engine.url}/clusters`);
  await page.getByRole('grid', { name: 'Clusters' }).getByRole('link', { name: 'lab', exact: true }).waitFor();
  await expectAccessible(page, t('clusters'));
  await dialogCheck(page, t('new cluster dialog'), 'New cluster',
    () => page.getByRole('button', { name: 'New cluster', exact: true }).click(),
    async (d) => {
      // A field's problem, on the field.
      await d.getByRole('textbox', { name: 'Name', exact: true }).fill('bad name!');
      await d.getByText('Only letters, digits, “.”, “-” and “_”.').waitFor();
      await d.getByRole('radio', { name: /Import a Gluster cluster/ }).check();
      await d.getByLabel('SSH port').fill('0');
      await d.getByText('A port from 1 to 65535.').waitFor();
    });
  await openMenu(page, page.getByRole('button', { name: 'Actions for lab', exact: true }), /^Remove/);
  await expectAccessible(page, t('clusters row menu'));
  await page.keyboard.press('Escape');

  await page.goto(`${engine.url}/clusters/${w.cluster.id}/hosts`);
  await page.getByRole('grid', { name: 'Hosts' }).waitFor();
  await expectAccessible(page, t('cluster hosts tab'));
  await dialogCheck(page, t('add host dialog'), 'Add host',
    () => page.getByRole('button', { name: 'Add host', exact: true }).click(),
    async (d) => {
      await d.getByLabel('SSH port').fill('99999');
      await d.getByText('A port from 1 to 65535.').waitFor();
    });
  await page.getByRole('tab', { name: 'Volumes', exact: true }).click();
  await page.getByRole('grid', { name: 'Volumes' }).waitFor();
  await expectAccessible(page, t('cluster volumes tab'));
  await dialogCheck(page, t('add volume dialog'), 'Add directory volume',
    () => page.getByRole('button', { name: 'Add directory volume', exact: true }).click(),
    async (d) => {
      await d.getByLabel('Path').fill('relative/path');
      await d.getByText('An absolute path (starting with /).').waitFor();
    });
  await page.getByRole('tab', { name: 'Geo-Replication Destinations', exact: true }).click();
  await page.getByRole('grid', { name: 'Geo-replication destinations' }).waitFor();
  await expectAccessible(page, t('cluster destinations tab'));
  await dialogCheck(page, t('new destination dialog'), 'New Geo-Replication Destination',
    () => page.getByRole('button', { name: 'New', exact: true }).click());

  await page.getByRole('link', { name: 'Volumes', exact: true }).click();
  await page.getByRole('grid', { name: 'Volumes' }).getByRole('link', { name: 'source', exact: true }).waitFor();
  await expectAccessible(page, t('volumes'));
  await page.goto(`${engine.url}/volumes/${w.vol.id}/general`);
  await page.getByText(w.vol.id).waitFor();
  await expectAccessible(page, t('volume general tab'));
  await page.getByRole('tab', { name: 'Geo-Replication Sessions', exact: true }).click();
  const row = page.locator(`tr[data-session-id="${w.session.id}"]`);
  await row.waitFor();
  // The expand toggle: named after the row (PatternFly adds its own "Details").
  await row.getByRole('button', { name: `Nodes of ${w.session.session_key} Details`, exact: true }).click();
  await expectAccessible(page, t('volume sessions tab'));
  await dialogCheck(page, t('new session dialog'), 'New Geo-Replication Session',
    () => page.getByRole('button', { name: 'New', exact: true }).click(),
    async (d) => {
      await d.getByLabel('Destination path').fill('replica');
      await d.getByText('An absolute path (starting with /).').waitFor();
    });

  await page.goto(`${engine.url}/sessions/${w.session.id}`);
  await page.getByRole('heading', { name: 'Nodes', exact: true }).waitFor();
  await page.getByRole('region', { name: 'Lag chart' }).locator('svg').first().waitFor();
  await expectAccessible(page, t('session page'));
  const toolbar = page.locator('[aria-label="Session actions"]');
  await dialogCheck(page, t('config dialog'), /^Config of/,
    () => toolbar.getByRole('button', { name: 'Config', exact: true }).click(),
    async (d) => {
      await d.getByRole('button', { name: 'Edit checkpoint', exact: true }).click();
      await d.getByLabel('Value of checkpoint (local time)').waitFor();
    });
  await dialogCheck(page, t('set checkpoint dialog'), 'Set checkpoint',
    () => toolbar.getByRole('button', { name: 'Set checkpoint', exact: true }).click(),
    (d) => d.getByRole('radio', { name: 'A date and time (your local time)' }).check());
  await dialogCheck(page, t('verify dialog'), /^Verify/,
    () => toolbar.getByRole('button', { name: 'Verify', exact: true }).click(),
    async (d) => {
      await d.getByRole('button', { name: 'Verify', exact: true }).click();
      await d.getByText(/\d+ differences? found/).waitFor({ timeout: 60000 });
    });
  await dialogCheck(page, t('stop dialog'), 'Stop session?',
    () => toolbar.getByRole('button', { name: 'Stop', exact: true }).click());

  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await page.getByRole('grid', { name: 'Events' }).waitFor();
  await expectAccessible(page, t('events'));
  await page.getByRole('button', { name: /^Alerts:/ }).click();
  await page.getByRole('list', { name: 'Firing alerts' }).getByText('destination-broken on localhost').waitFor();
  await expectAccessible(page, t('alert drawer'));
  await page.getByRole('button', { name: /^Alerts:/ }).click();

  // Administration: notifiers (one of them, w.notifier) and the alerts' thresholds.
  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await page.getByRole('grid', { name: 'Notifiers' }).getByText(w.notifier.name, { exact: true }).waitFor();
  await page.getByRole('grid', { name: 'Alert thresholds' }).waitFor();
  await expectAccessible(page, t('notifications'));
  await dialogCheck(page, t('add notifier dialog'), 'Add notifier',
    () => page.getByRole('button', { name: 'Add notifier', exact: true }).click(),
    async (d) => {
      await d.getByLabel('Kind').selectOption('email');
      await d.getByRole('textbox', { name: 'From', exact: true }).fill('not an address');
      await d.locator('#notifier-from-helper').getByText('“not an address” is not an e-mail address.').waitFor();
    });
  await dialogCheck(page, t('delivery history dialog'), `Delivery history of ${w.notifier.name}`,
    async () => (await openMenu(page, page.getByRole('button', { name: `Actions for ${w.notifier.name}`, exact: true }), /^Delivery history$/)).click(),
    // (Empty unless an alert fired in the moment before the notifier was disabled.)
    (d) => d.getByText('Nothing was sent yet.').or(d.getByRole('grid', { name: `Deliveries of ${w.notifier.name}` })).waitFor());
  await dialogCheck(page, t('change setting dialog'), 'Change alert-disk-usage',
    async () => (await openMenu(page, page.getByRole('button', { name: 'Actions for alert-disk-usage', exact: true }), /^Change$/)).click(),
    async (d) => {
      await d.getByRole('textbox', { name: 'Value' }).fill('101');
      await d.getByText('From 0 to 100.').waitFor();
    });
}

test('every page and dialog passes axe in the light and the dark theme; the theme follows the browser, is chosen and remembered, and is there before the first paint', { timeout: 600000 }, async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const w = await world(engine);
  const { browser, page, consoleErrors } = await launchBrowser({ colorScheme: 'light' });
  t.after(() => browser.close());

  // The login page, light, then dark by the browser's preference (no choice made yet).
  await page.goto(`${engine.url}/`);
  await page.getByRole('heading', { level: 1, name: 'Log in to georep' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v5-theme-dark')), false);
  await expectAccessible(page, 'login (light)');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Log in to georep' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v5-theme-dark')), true,
    'System follows prefers-color-scheme: dark');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByLabel('Username').fill('admin');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByText(/invalid|incorrect|wrong/i).first().waitFor();
  await expectAccessible(page, 'login with an error (dark)');

  await login(page, engine);
  const pressed = (name) => page.getByRole('group', { name: 'Theme' }).getByRole('button', { name, exact: true });
  assert.equal(await pressed('System').getAttribute('aria-pressed'), 'true');
  // The browser's preference changes: the console follows at once.
  await page.emulateMedia({ colorScheme: 'light' });
  // A media query's change event is sent while the page renders a frame; an idle page under
  // load may not render one soon, so one is asked for (the console must still react itself).
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
  await page.locator('html:not(.pf-v5-theme-dark)').waitFor({ state: 'attached' });

  // Light, chosen: every page and dialog.
  await setTheme(page, 'light');
  assert.equal(await page.evaluate(() => localStorage.getItem('georep.theme')), 'light');
  await walk(page, engine, w, 'light');

  // Dark, chosen: remembered over a reload, whatever the browser prefers; every page again.
  await setTheme(page, 'dark');
  await page.reload();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v5-theme-dark')), true);
  assert.equal(await pressed('Dark').getAttribute('aria-pressed'), 'true');
  await walk(page, engine, w, 'dark');

  // Before the first paint: with the console's own scripts refused, <html> is dark already
  // (public/theme.js, in <head>, a file the CSP allows).
  await page.route('**/assets/*.js', (r) => r.abort());
  await page.goto(`${engine.url}/clusters`);
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v5-theme-dark')), true,
    'the theme is on <html> before the console runs');
  assert.equal(await page.evaluate(() => document.getElementById('root').childElementCount), 0, 'the console did not run');
  await page.unroute('**/assets/*.js');

  // The screenshot for the documentation: a session in the dark theme.
  await page.goto(`${engine.url}/sessions/${w.session.id}`);
  await page.getByRole('region', { name: 'Throughput chart' }).locator('svg').first().waitFor();
  // (docs/screenshots/dark-theme.png is this file.)
  await screenshot(page, 'dark-theme');
  // System again: the choice is forgotten.
  await setTheme(page, 'system');
  assert.equal(await page.evaluate(() => localStorage.getItem('georep.theme')), null);
  assert.deepEqual(consoleErrors, []);
});

test('at 1024x768 the masthead toggle opens the navigation to every page; the pages pass axe there', { timeout: 300000 }, async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['source'] });
  const { browser, page, consoleErrors } = await launchBrowser({ viewport: { width: 1024, height: 768 } });
  t.after(() => browser.close());
  await login(page, engine);
  const nav = page.getByRole('navigation', { name: 'Main' });
  const toggle = page.getByRole('button', { name: 'Navigation', exact: true });
  // The landing page, the Overview.
  await page.getByRole('heading', { level: 1, name: 'Overview', exact: true }).waitFor();
  // Closed at this width: its links are not visible until the toggle opens it.
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await nav.getByRole('link', { name: 'Volumes', exact: true }).isVisible(), false);
  await expectAccessible(page, 'overview at 1024x768');
  for (const [name, heading] of [
    ['Sessions', 'Sessions'], ['Clusters', 'Clusters'], ['Volumes', 'Volumes'], ['Events', 'Events'], ['Users', 'Users'],
    ['Notifications', 'Notifications'], ['API tokens', 'API tokens'], ['Overview', 'Overview'],
  ]) {
    await toggle.click();
    await nav.getByRole('link', { name, exact: true }).waitFor();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await expectAccessible(page, `navigation open at 1024x768 (${name})`);
    await nav.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
    // Following a link closes the navigation that covered the page.
    await nav.getByRole('link', { name, exact: true }).waitFor({ state: 'hidden' });
    await expectAccessible(page, `${name} at 1024x768`);
  }
  await page.goto(`${engine.url}/clusters/${setup.cluster.id}/destinations`);
  await page.getByRole('grid', { name: 'Geo-replication destinations' }).waitFor();
  await expectAccessible(page, 'cluster destinations at 1024x768');
  await screenshot(page, 'narrow-destinations');
  assert.deepEqual(consoleErrors, []);
});

test('times read in the browser\'s zone: relative with the full local time on hover, events in local time, the engine\'s UTC and nanosecond times in messages too', { timeout: 300000 }, async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const w = await world(engine);
  const { browser, page, consoleErrors } = await launchBrowser({ timezoneId: ZONE });
  t.after(() => browser.close());
  await login(page, engine);
  const local = (iso) => new Date(iso).toLocaleString('en-US', { timeZone: ZONE });

  // Events: the time column in local time, the exact UTC value in datetime, the zone on hover.
  const [newest] = (await engine.api('GET', '/events?limit=1')).items;
  await page.goto(`${engine.url}/events`);
  const time = page.getByRole('grid', { name: 'Events' }).locator(`time[datetime="${new Date(newest.at).toISOString()}"]`).first();
  await time.waitFor();
  assert.equal(await time.innerText(), local(newest.at));
  assert.match(await time.getAttribute('title'), /(EST|EDT|GMT-[45])/, 'the zone is named on hover');

  // The session's verify-differs alert: the engine writes "... at <UTC ISO time>: ..."; the page
  // shows that time in local time (and no bare UTC value beside the local columns).
  const s = await engine.api('GET', `/sessions/${w.session.id}`);
  const alert = s.alerts.find((a) => a.kind === 'verify-differs');
  const iso = alert.message.match(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/)[0];
  await page.goto(`${engine.url}/sessions/${w.session.id}`);
  const box = page.locator('[data-alert="verify-differs"]').first();
  await box.waitFor();
  const text = await box.innerText();
  assert.ok(!text.includes(iso), `the UTC value is not shown raw: ${text}`);
  assert.ok(text.includes(local(iso)), `the alert's time in local time (${local(iso)}): ${text}`);
  // Hovering a relative time gives the full local value with the zone.
  const synced = page.getByLabel('Last synced').locator('time');
  assert.match(await synced.innerText(), /ago|just now/);
  assert.match(await synced.getAttribute('title'), /(EST|EDT|GMT-[45])/);

  // Verify: "modified at <UTC time to the nanosecond>" reads as a local date and time.
  const toolbar = page.locator('[aria-label="Session actions"]');
  await toolbar.getByRole('button', { name: 'Verify', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: /^Verify/ });
  await dialog.getByRole('button', { name: 'Verify', exact: true }).click();
  const diffs = dialog.getByRole('grid', { name: 'Differences' });
  await diffs.waitFor({ timeout: 60000 });
  const diffText = await diffs.innerText();
  const modified = (await engine.api('POST', `/sessions/${w.session.id}/verify`)).differences
    .map((d) => d.difference).find((d) => d.startsWith('modified at'));
  assert.ok(modified?.endsWith('at the source, 2026-01-02T03:04:05.500000000Z at the destination'), modified);
  assert.ok(!diffText.includes('2026-01-02T03:04:05'), `no raw UTC time: ${diffText}`);
  const shown = local(REPLICA_MTIME.toISOString());
  assert.ok(diffText.includes(shown), `the modification time in local time (${shown}): ${diffText}`);
  await dialog.locator('footer').getByRole('button', { name: 'Close', exact: true }).click();

  // The checkpoint option: a readable date, not Unix seconds alone.
  await engine.api('PUT', `/sessions/${w.session.id}/config/checkpoint`, { value: '1800000000' });
  await toolbar.getByRole('button', { name: 'Config', exact: true }).click();
  const cfg = page.getByRole('dialog', { name: /^Config of/ });
  const cp = cfg.locator('tr[data-config-key="checkpoint"]');
  await cp.locator('time[datetime="2027-01-15T08:00:00.000Z"]').waitFor();
  assert.ok((await cp.innerText()).includes(local('2027-01-15T08:00:00Z')));
  assert.deepEqual(consoleErrors, []);
});
