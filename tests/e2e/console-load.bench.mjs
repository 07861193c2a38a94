// The console's cold first load (the login page and every file it fetches), for each georep
// binary given, side by side: in Chromium with an empty cache (load time, time until the login
// form shows, bytes transferred, each file's Content-Encoding), on loopback and on an emulated
// slower link; with curl, file by file, as is, gzip only and --compressed; a few API answers,
// as is and gzip; and the console's JS as built, raw, gzip and brotli. Not a test (node --test
// does not pick it up): bench/console_load.sh runs it; docs/benchmarks.md has its last results.
//
//   node console-load.bench.mjs [--runs N] BINARY...
//   (GEOREP_WEB_ROOT: the built console, default web/dist; CHROMIUM: the browser)
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { launchBrowser, startEngine, webRoot } from './harness.mjs';

const run = promisify(execFile);

// Chromium's own throttling (DevTools protocol): what a browser on a remote admin's link sees.
const links = [
  { name: 'loopback', conditions: null },
  {
    name: '20 Mbit/s, 40 ms RTT',
    conditions: { offline: false, latency: 40, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 },
  },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// One cold load in a fresh browser context (nothing cached): times from navigation start, and
// every response of the page (same origin) with what went over the wire for it.
async function coldLoad(browser, url, conditions) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const encodings = new Map();
  page.on('response', async (r) => {
    const h = await r.allHeaders().catch(() => ({}));
    encodings.set(new URL(r.url()).pathname, h['content-encoding'] ?? 'none');
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (conditions) await cdp.send('Network.emulateNetworkConditions', conditions);
  const t0 = Date.now();
  await page.goto(`${url}/`, { waitUntil: 'load' });
  await page.getByLabel('Username').waitFor();
  const formMs = Date.now() - t0;
  await page.waitForLoadState('networkidle');
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const files = [nav, ...performance.getEntriesByType('resource')].map((e) => ({
      path: new URL(e.name).pathname,
      transfer: e.transferSize,
      encoded: e.encodedBodySize,
      decoded: e.decodedBodySize,
    }));
    return { load: nav.loadEventEnd, domContentLoaded: nav.domContentLoadedEventEnd, files };
  });
  await context.close();
  return { ...timing, formMs, encodings };
}

// curl over a fresh connection: bytes of body received (as sent, before decoding) and time.
// `kind`: 'plain' (no Accept-Encoding), 'gzip' (gzip only, what browsers ask for over plain
// HTTP) or 'compressed' (curl's --compressed: br, gzip, ...).
const curlArgs = { plain: [], gzip: ['-H', 'Accept-Encoding: gzip', '--compressed'], compressed: ['--compressed'] };
async function curlFile(url, kind, headers = []) {
  const args = ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', ...curlArgs[kind]];
  for (const h of headers) args.push('-H', h);
  const { stdout } = await run('curl', [...args, url]);
  const [bytes, seconds] = stdout.trim().split(' ');
  return { bytes: Number(bytes), ms: Number(seconds) * 1000 };
}

async function curlMedian(url, kind, runs, headers = []) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await curlFile(url, kind, headers));
  return { bytes: median(samples.map((s) => s.bytes)), ms: median(samples.map((s) => s.ms)) };
}

function jsAsBuilt() {
  const dir = path.join(webRoot, 'assets');
  const size = (f) => {
    try {
      return statSync(path.join(dir, f)).size;
    } catch {
      return null;
    }
  };
  const out = { files: 0, raw: 0, gzip: 0, br: 0 };
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    out.files += 1;
    out.raw += size(f);
    out.gzip += size(`${f}.gz`) ?? size(f);
    out.br += size(`${f}.br`) ?? size(f);
  }
  return out;
}

const argv = process.argv.slice(2);
let runs = 5;
if (argv[0] === '--runs') {
  runs = Number(argv[1]);
  argv.splice(0, 2);
}
if (argv.length === 0) {
  console.error('usage: node console-load.bench.mjs [--runs N] BINARY...');
  process.exit(2);
}

const results = [];
const { browser } = await launchBrowser();
try {
  for (const bin of argv) {
    const engine = await startEngine({ bin });
    try {
      for (const link of links) {
        const loads = [];
        for (let i = 0; i < runs; i++) loads.push(await coldLoad(browser, engine.url, link.conditions));
        const last = loads[loads.length - 1];
        results.push({
          binary: bin,
          link: link.name,
          runs,
          requests: last.files.length,
          transferred_bytes: median(loads.map((l) => l.files.reduce((n, f) => n + f.transfer, 0))),
          decoded_bytes: median(loads.map((l) => l.files.reduce((n, f) => n + f.decoded, 0))),
          load_ms: median(loads.map((l) => l.load)),
          dom_content_loaded_ms: median(loads.map((l) => l.domContentLoaded)),
          login_form_ms: median(loads.map((l) => l.formMs)),
          files: last.files.map((f) => ({ ...f, encoding: last.encodings.get(f.path) ?? '?' })),
        });
      }
      // curl over the same files the browser fetched: sums of each file's medians.
      const paths = results[results.length - 1].files.map((f) => f.path);
      const curl = {};
      for (const kind of Object.keys(curlArgs)) {
        curl[kind] = { bytes: 0, ms: 0 };
        for (const p of paths) {
          const m = await curlMedian(`${engine.url}${p}`, kind, runs);
          curl[kind].bytes += m.bytes;
          curl[kind].ms += m.ms;
        }
      }
      // The API: a list of 200 clusters and the audit trail of their creation (JSON answers
      // over the compression threshold), and one small answer.
      for (let i = 0; i < 200; i++) {
        await engine.api('POST', '/clusters', { name: `bench-${i}`, description: 'a source cluster in the east data centre' });
      }
      const api = {};
      for (const p of ['/clusters', '/events?limit=1000', '/me']) {
        api[p] = {};
        for (const kind of ['plain', 'gzip']) {
          api[p][kind] = await curlMedian(`${engine.url}/api/v1${p}`, kind, runs, [`Authorization: Bearer ${engine.token}`]);
        }
      }
      results.push({ binary: bin, curl, api, files: paths });
    } finally {
      await engine.stop();
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ web_root: webRoot, js_as_built: jsAsBuilt(), results }, null, 2));
