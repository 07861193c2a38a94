// The console from the keyboard alone: log in, go to a volume, create a session and start it,
// open the session's details -- Tab, Enter, arrows and Escape, no mouse. Each step checks where
// the focus is, so a control that cannot be reached (or reached only by clicking) fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, screenshot, startEngine } from './harness.mjs';

// Presses Tab (or Shift+Tab) until the focused element matches; at most `max` presses.
async function tabTo(page, describe, matches, { max = 60, back = false } = {}) {
  for (let i = 0; i < max; i++) {
    const here = await page.evaluate(() => {
      const e = document.activeElement;
      return e ? { tag: e.tagName, text: (e.innerText || '').trim(), label: e.getAttribute('aria-label') ?? '', id: e.id } : null;
    });
    if (here && matches(here)) return here;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`could not reach ${describe} with the keyboard in ${max} presses`);
}

test('from login to a started session, keyboard only', { timeout: 180000 }, async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const setup = await directorySetup(engine, { volumes: ['source'] });
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  // Login: type, Tab, type, Enter.
  await page.goto(`${engine.url}/`);
  await tabTo(page, 'the username field', (e) => e.tag === 'INPUT' && e.id.includes('username'));
  await page.keyboard.type(engine.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(engine.password);
  await page.keyboard.press('Enter');
  await page.getByRole('navigation', { name: 'Main' }).waitFor();

  // The navigation, then the volume.
  await tabTo(page, 'the Volumes link', (e) => e.tag === 'A' && e.text === 'Volumes');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/volumes');
  await page.getByRole('link', { name: 'source', exact: true }).waitFor();
  await tabTo(page, 'the volume link', (e) => e.tag === 'A' && e.text === 'source');
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/volumes/${setup.volumes.source.id}/sessions`);

  // New session: the dialog takes the focus, Escape would close it; fill the path and create.
  await page.getByText('No geo-replication sessions').waitFor();
  await tabTo(page, 'the New button', (e) => e.tag === 'BUTTON' && e.text === 'New');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'New Geo-Replication Session' });
  await dialog.waitFor();
  const replica = path.join(engine.dataDir, 'replica-keyboard');
  await tabTo(page, 'the destination path field', (e) => e.tag === 'INPUT' && /path/i.test(e.label + e.id));
  await page.keyboard.type(replica);
  await tabTo(page, 'the Create button', (e) => e.tag === 'BUTTON' && e.text === 'Create');
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'detached' });
  const [session] = (await engine.api('GET', `/volumes/${setup.volumes.source.id}/sessions`)).items;
  assert.equal(session.destination_volume, replica);

  // The row's actions menu: Enter opens it, arrows move, Enter picks Start; the confirmation
  // dialog's Start is reached by Tab.
  await tabTo(page, 'the session actions', (e) => e.label === `Actions for ${session.session_key}`);
  await page.keyboard.press('Enter');
  const start = page.getByRole('menuitem', { name: /^Start/ });
  await start.waitFor();
  for (let i = 0; i < 10; i++) {
    if (await start.evaluate((el) => el === document.activeElement || el.contains(document.activeElement))) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
  const confirm = page.getByRole('dialog', { name: 'Start session?' });
  await confirm.waitFor();
  await tabTo(page, 'the Start button', (e) => e.tag === 'BUTTON' && e.text === 'Start');
  await page.keyboard.press('Enter');
  await confirm.waitFor({ state: 'detached' });
  const deadline = Date.now() + 60000;
  while ((await engine.api('GET', `/sessions/${session.id}`)).status !== 'Active') {
    assert.ok(Date.now() < deadline, 'the session did not become Active');
    await new Promise((r) => setTimeout(r, 500));
  }

  // The session's details, through its link.
  await tabTo(page, 'the session link', (e) => e.tag === 'A' && e.text === session.session_key);
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/sessions/${session.id}`);
  await page.getByRole('heading', { name: 'Nodes' }).waitFor();
  await screenshot(page, 'keyboard-session-details');
  await expectAccessible(page, 'keyboard-session-details');
  assert.deepEqual(consoleErrors, []);
});
