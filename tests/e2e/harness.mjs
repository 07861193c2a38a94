// The e2e harness: a real `georep serve` (its own data directory, SQLite, a free loopback
// port, the built console), Debian's chromium driven by playwright-core, and helpers to set
// up directory volumes through the REST API.
//
// Environment (ctest sets these; defaults suit a checkout built with scripts/build.sh asan):
//   GEOREP_BIN             the georep binary
//   GEOREP_WEB_ROOT        the built console (web/dist)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   GEOREP_E2E_ARTIFACTS   where screenshots go (default build/e2e-artifacts)
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
export const georepBin = process.env.GEOREP_BIN ?? path.join(repo, 'build/asan/src/georep');
export const webRoot = process.env.GEOREP_WEB_ROOT ?? path.join(repo, 'web/dist');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const artifacts = process.env.GEOREP_E2E_ARTIFACTS ?? path.join(repo, 'build/e2e-artifacts');

// Starts an engine (`bin`: another georep binary, e.g. to compare two builds); resolves once
// it listens. stop() ends it (SIGTERM, then SIGKILL).
// `logLevel: 'info'` logs every request on stderr (logs().err).
export async function startEngine({ monitorInterval = 1, bin = georepBin, logLevel = 'warn' } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'georep-e2e-'));
  const child = spawn(
    bin,
    ['serve', '--data', path.join(dataDir, 'engine'), '--listen', '127.0.0.1:0', '--web-root', webRoot,
      '--monitor-interval', String(monitorInterval), '--log-level', logLevel,
      // The tests' directory volumes live in their temporary directories.
      '--volume-root', tmpdir()],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const started = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`georep serve did not start in 20 s:\n${out}\n${err}`)), 20000);
    const check = () => {
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`georep serve exited (${code}):\n${out}\n${err}`));
    });
  });
  const url = started;
  const password = out.match(/^ {2}password: (\S+)$/m)?.[1];
  if (!password) throw new Error(`no first-start password in:\n${out}`);
  const engine = {
    url, username: 'admin', password, dataDir, child,
    token: '',
    logs: () => ({ out, err }),
    // Resolves when `seen(err)` holds, checked as each line reaches the engine's stderr; fails
    // after `ms` with what was logged.
    untilLogged(seen, ms = 10000) {
      if (seen(err)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!seen(err)) return;
          clearTimeout(timer);
          child.stderr.off('data', check);
          resolve();
        };
        const timer = setTimeout(() => {
          child.stderr.off('data', check);
          reject(new Error(`not logged within ${ms} ms:\n${err}`));
        }, ms);
        child.stderr.on('data', check);
      });
    },
    async api(method, p, body) {
      const res = await fetch(`${url}/api/v1${p}`, {
        method,
        headers: { Authorization: `Bearer ${engine.token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      const json = text ? JSON.parse(text) : undefined;
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return json;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await new Promise((r) => child.once('exit', r));
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password, token_name: 'e2e-harness' }),
  });
  engine.token = (await login.json()).token;
  return engine;
}

// `viewport`, `timezoneId` and `colorScheme` (the browser's prefers-color-scheme) as playwright
// takes them.
export async function launchBrowser({ viewport = { width: 1400, height: 900 }, timezoneId, colorScheme, locale = 'en-US' } = {}) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({
    viewport, locale, ...(timezoneId ? { timezoneId } : {}), ...(colorScheme ? { colorScheme } : {}),
  });
  // Generous for a loaded machine (CTest runs two tests at once, beside ASan builds of the
  // engine); every wait is still bounded.
  context.setDefaultTimeout(20000);
  context.setDefaultNavigationTimeout(45000);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  return { browser, context, page, consoleErrors };
}

// Logs in through the login screen.
export async function login(page, engine) {
  await page.goto(`${engine.url}/`);
  await page.getByLabel('Username').fill(engine.username);
  await page.getByLabel('Password').fill(engine.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  // The masthead (the navigation is closed on a narrow window).
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}

// axe-core (tests/e2e/node_modules) checks what the page shows now, against WCAG 2.1 A and AA
// and axe's best practices; fails listing every violation of impact critical or serious, each
// with its rule, what it means and the elements it was found on. `what` names the screen (and
// the theme) in the failure. A dialog open on the page is checked along with the page.
// axe is evaluated in the page rather than added as a <script> (page.addScriptTag): the engine's
// Content-Security-Policy refuses inline scripts, as it should, and stays on for the test.
const axeSource = path.join(here, 'node_modules/axe-core/axe.min.js');
let axeText;
export async function expectAccessible(page, what) {
  axeText ??= readFileSync(axeSource, 'utf8');
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeText);
  // Transitions at their end: a colour caught between two states is not the one users read.
  // (Endless ones, a spinner's, cannot end and are left running.)
  await page.evaluate(() => document.getAnimations()
    .filter((a) => Number.isFinite(a.effect?.getComputedTiming().endTime))
    .forEach((a) => a.finish()));
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    }).then((r) => r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ').slice(0, 300)}`),
    }))));
  const bad = result.filter((v) => v.impact === 'critical' || v.impact === 'serious');
  if (bad.length) {
    const shot = await screenshot(page, `axe-${what.replace(/[^A-Za-z0-9-]+/g, '-')}`);
    throw new Error(`${what}: ${bad.length} accessibility violation(s) (screenshot ${shot}):\n` +
      bad.map((v) => `- [${v.impact}] ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n'));
  }
  return result;
}

// Chooses the console's theme through the masthead's switch and waits for <html> to follow.
export async function setTheme(page, theme) {
  const name = { system: 'System', light: 'Light', dark: 'Dark' }[theme];
  await page.getByRole('group', { name: 'Theme' }).getByRole('button', { name, exact: true }).click();
  if (theme === 'dark') await page.locator('html.pf-v5-theme-dark').waitFor({ state: 'attached' });
  if (theme === 'light') await page.locator('html:not(.pf-v5-theme-dark)').waitFor({ state: 'attached' });
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, `${name}.png`);
  // Transitions run to their end first: a drawer caught sliding in shows half its width.
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

// Polls fn until it returns a truthy value (and returns it); a falsy value or an exception
// means "not yet". Fails after `ms` with what it last saw (`seen()`, when given, says it).
export async function until(what, fn, ms = 30000, every = 250, seen = undefined) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
      if (seen) last = seen();
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

// Waits until `locator`'s input value is `expected`: a form fills some of its fields once
// their choices have loaded. Fails with the value it last saw.
export async function waitForValue(locator, expected, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const seen = await locator.inputValue();
    if (seen === expected) return;
    if (Date.now() > until) {
      throw new Error(`expected the value ${JSON.stringify(expected)}, still ${JSON.stringify(seen)} after ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Opens the actions menu behind `toggle` and returns its item named `item` (a RegExp). A click
// can miss when a live update moves the row under the pointer while it lands: the toggle's
// aria-expanded tells, and it is clicked again (3 clicks at most). Each miss leaves a
// screenshot and a diagnostic line, so that misses stay visible.
export async function openMenu(page, toggle, item) {
  for (let click = 1; ; click++) {
    await toggle.click();
    const opened = await toggle
      .and(page.locator('[aria-expanded="true"]'))
      .waitFor({ timeout: 5000 })
      .then(() => true, () => false);
    if (opened) break;
    const shot = await screenshot(page, `menu-missed-${Date.now()}`);
    console.log(`# the actions menu did not open on click ${click} (${shot})`);
    if (click === 3) throw new Error('the actions menu did not open after 3 clicks');
  }
  const mi = page.getByRole('menuitem', { name: item });
  try {
    await mi.waitFor();
  } catch (e) {
    await screenshot(page, `menu-item-missing-${Date.now()}`);
    throw e;
  }
  return mi;
}

// A cluster with one local host, directory volumes at the given paths (created), and a local
// destination. Returns their ids.
export async function directorySetup(engine, { cluster = 'lab', volumes = ['source'] } = {}) {
  const c = await engine.api('POST', '/clusters', { name: cluster, description: 'directory volumes on this machine' });
  const h = await engine.api('POST', `/clusters/${c.id}/hosts`, { name: 'localhost', address: 'localhost', transport: 'local' });
  const vols = {};
  for (const name of volumes) {
    const dir = path.join(engine.dataDir, 'volumes', name);
    mkdirSync(dir, { recursive: true });
    vols[name] = await engine.api('POST', `/clusters/${c.id}/volumes`, { name, kind: 'directory', host_id: h.id, path: dir });
    vols[name].path = dir;
  }
  const d = await engine.api('POST', `/clusters/${c.id}/destinations`, { source_host_id: h.id, host: 'localhost' });
  return { cluster: c, host: h, volumes: vols, destination: d, replicaDir: (n) => path.join(engine.dataDir, 'replicas', n) };
}

// A webhook receiver on loopback, for the engine's notifiers: next(match) resolves with the
// first request (method, headers, raw body, parsed JSON) that `match` takes, as it arrives, or
// fails after `ms` listing what did arrive.
export async function startWebhookReceiver() {
  const got = [];
  const waiting = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r = { method: req.method, headers: req.headers, raw, json: JSON.parse(raw) };
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

// What a webhook request's X-Georep-Signature must be: "sha256=" and the hex HMAC-SHA256 of
// "<X-Georep-Timestamp>.<raw body>", keyed by the notifier's secret (docs/alerts.md).
export function webhookSignature(secret, request) {
  const ts = request.headers['x-georep-timestamp'];
  return 'sha256=' + createHmac('sha256', secret).update(`${ts}.${request.raw}`).digest('hex');
}

// The real-GlusterFS lab (tests/gluster/cluster.sh, the same clusters the C++ Gluster suite
// uses): a source cluster src1+src2 with volume gv0, a destination dst1 with gv1 and gv2, each
// node with its own sshd and host key, trusting this engine's key. down() removes it all.
export const glusterState = process.env.GEOREP_GLUSTER_STATE ?? '/var/tmp/grgc';
const glusterHarness = path.join(repo, 'tests/gluster/cluster.sh');

function run(argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

export async function startGlusterLab(engine) {
  const pub = path.join(engine.dataDir, 'engine/ssh/id_ed25519.pub');
  await run(['/bin/bash', glusterHarness, 'up', glusterState, pub], 240000);
  const { readFileSync } = await import('node:fs');
  const nodes = {};
  for (const line of readFileSync(path.join(glusterState, 'nodes'), 'utf8').trim().split('\n')) {
    const [name, ip, fingerprint] = line.split(/\s+/);
    nodes[name] = { name, ip, fingerprint };
  }
  const rootPassword = readFileSync(path.join(glusterState, 'root-password'), 'utf8').trim();
  return {
    nodes,
    rootPassword,
    down: () => (process.env.GEOREP_KEEP_CLUSTERS ? Promise.resolve() : run(['/bin/bash', glusterHarness, 'down', glusterState], 120000)),
  };
}
