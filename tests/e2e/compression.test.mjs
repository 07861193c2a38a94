// The console as a browser receives it from a real `georep serve`: each file of the login page
// in the coding the browser asked for (brotli, else gzip: the copies the console's build wrote
// beside the files), decoded into a working page; hashed assets cached for good, index.html
// revalidated by its ETag on the next visit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startEngine } from './harness.mjs';

test('the login page arrives compressed, works, and is revalidated', async (t) => {
  const engine = await startEngine({ logLevel: 'info' });
  t.after(() => engine.stop());
  const { browser, page, consoleErrors } = await launchBrowser();
  t.after(() => browser.close());

  const seen = [];
  page.on('response', (r) => seen.push(r));
  await page.goto(`${engine.url}/`);
  await page.getByLabel('Username').waitFor();
  await page.waitForLoadState('networkidle');

  const files = [];
  for (const r of seen) {
    const u = new URL(r.url());
    if (u.origin !== engine.url || u.pathname.startsWith('/api/')) continue;
    const asked = await r.request().allHeaders();
    const h = await r.allHeaders();
    files.push({
      path: u.pathname, status: r.status(), accepted: asked['accept-encoding'] ?? '',
      encoding: h['content-encoding'], cache: h['cache-control'], vary: h.vary, etag: h.etag,
    });
  }
  const text = files.filter((f) => f.path === '/' || /\.(js|css|html)$/.test(f.path));
  assert.ok(text.some((f) => f.path.endsWith('.js')), JSON.stringify(files));
  assert.ok(text.some((f) => f.path === '/'), JSON.stringify(files));
  for (const f of text) {
    assert.equal(f.status, 200, f.path);
    assert.equal(f.encoding, f.accepted.includes('br') ? 'br' : 'gzip', `${f.path} (asked: ${f.accepted})`);
    assert.equal(f.vary, 'Accept-Encoding', f.path);
    assert.equal(f.cache, f.path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache', f.path);
    assert.match(f.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+(-br|-gzip)?"$/, f.path);
  }
  assert.deepEqual(consoleErrors, []);

  // The next visit: index.html is asked again with its ETag and not sent again (304); the
  // hashed assets come from the browser's cache, not asked at all. Told by the engine's access
  // log: the browser shows a revalidated answer as the cached 200.
  const index = text.find((f) => f.path === '/');
  const logged = () => engine.logs().err.split('\n').filter((l) => l.includes('msg=request'));
  const before = logged().length;
  const asked = [];
  page.on('request', async (r) => {
    if (new URL(r.url()).pathname === '/') asked.push(await r.allHeaders());
  });
  await page.goto(`${engine.url}/`);
  await page.getByLabel('Username').waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(asked[0]?.['if-none-match'], index.etag);
  await engine.untilLogged(() => logged().slice(before).some((l) => l.includes('path=/ ')));
  const second = logged().slice(before);
  assert.ok(second.some((l) => / path=\/ status=304 /.test(l)), second.join('\n'));
  assert.ok(!second.some((l) => l.includes('path=/assets/')), second.join('\n'));
});
