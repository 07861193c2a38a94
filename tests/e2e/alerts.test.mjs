// Alerts in the console, end to end against a real engine: a destination that cannot take its
// session's replica (Test says Broken) fires the destination-broken alert; its webhook reaches a
// receiver in this test, signed; the masthead's badge counts it; the drawer lists it and an
// admin acknowledges it there (the badge empties); the destination mended and tested again, the
// alert resolves and leaves the drawer -- all without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { directorySetup, expectAccessible, launchBrowser, login, screenshot, startEngine } from './harness.mjs';

// A webhook receiver on loopback: next(match) resolves with the first request (headers, raw
// body, parsed JSON) that `match` takes, as it arrives.
async function startReceiver() {
  const got = [];
  const waiting = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r = { headers: req.headers, raw, json: JSON.parse(raw) };
      got.push(r);
      for (const w of [...waiting]) {
        if (w.match(r.json)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(r);
        }
      }
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    next(match, ms = 30000) {
      const seen = got.find((r) => match(r.json));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { match, resolve };
        waiting.push(w);
        setTimeout(() => reject(new Error(`no matching webhook within ${ms} ms; got ${JSON.stringify(got.map((r) => r.json))}`)), ms).unref();
      });
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

test('an alert: webhook, badge, drawer, acknowledge, resolve', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.stop());
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const secret = 'e2e webhook secret, long enough';
  await engine.api('POST', '/notifiers', { name: 'e2e', url: receiver.url, secret });

  const setup = await directorySetup(engine, { volumes: ['source'] });
  const destId = setup.destination.id;
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());
  await login(page, engine);
  const badge = page.getByRole('button', { name: /^Alerts:/ });
  await page.getByRole('button', { name: 'Alerts: none firing', exact: true }).waitFor();

  // A session whose replica directory cannot be created; the destination's test says Broken.
  const blocker = path.join(engine.dataDir, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const stuck = await engine.api('POST', '/sessions', {
    destination_id: destId, source_volume_id: setup.volumes.source.id, destination_volume: path.join(blocker, 'replica'),
  });
  await engine.api('POST', `/destinations/${destId}/test`).catch(() => {});
  assert.equal((await engine.api('GET', `/destinations/${destId}`)).connection, 'Broken');

  // The webhook, signed over "<timestamp>.<body>".
  const hook = await receiver.next((j) => j.event === 'firing' && j.alert.rule === 'destination-broken');
  const ts = hook.headers['x-georep-timestamp'];
  const want = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${hook.raw}`).digest('hex');
  assert.equal(hook.headers['x-georep-signature'], want);
  assert.equal(hook.json.alert.object_id, destId);
  assert.equal(hook.json.alert.severity, 'critical');

  // The badge counts it (without a reload); the drawer lists it.
  await page.getByRole('button', { name: 'Alerts: 1 firing, 1 not acknowledged, critical among them', exact: true }).waitFor();
  await badge.click();
  const drawer = page.getByRole('list', { name: 'Firing alerts' });
  const item = drawer.getByRole('listitem').filter({ hasText: 'destination-broken on localhost' });
  await item.waitFor();
  await item.getByText(/cannot be created/).first().waitFor();
  await screenshot(page, 'alert-drawer');
  await expectAccessible(page, 'alert-drawer');

  // Acknowledged from the drawer: kept there, marked, and no longer counted.
  await item.getByRole('button', { name: 'Acknowledge destination-broken on localhost', exact: true }).click();
  await item.getByText('Acknowledged by admin').waitFor();
  await page.getByRole('button', { name: 'Alerts: 1 firing, 0 not acknowledged', exact: true }).waitFor();
  const acked = await engine.api('GET', '/alerts?state=firing');
  assert.equal(acked.items[0].acknowledged_by, 'admin');

  // Mended: the stuck session gone, the destination tested again -- the alert resolves, its
  // end is sent, and the drawer empties.
  await engine.api('DELETE', `/sessions/${stuck.id}`);
  await engine.api('POST', `/destinations/${destId}/test`);
  const ended = await receiver.next((j) => j.event === 'resolved' && j.alert.id === hook.json.alert.id);
  assert.equal(ended.json.alert.state, 'resolved');
  await page.getByText('No alert is firing').waitFor();
  await page.getByRole('button', { name: 'Alerts: none firing', exact: true }).waitFor();
  assert.deepEqual(consoleErrors, []);
});
