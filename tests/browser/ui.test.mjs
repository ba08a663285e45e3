// The web page end to end (issue 5, "The web page"): a throwaway store and PKI made with the
// certgate and openssl commands, `certgate serve --admin` on a free loopback port, and the page
// driven in Debian's Chromium with playwright-core. It asserts on what the page displays:
// sign-in, the certificate table (fingerprint as openssl prints it, days left and their colours,
// the stored warnings, escaping of a subject holding markup), an upload of a PKCS#12 with a wrong
// and then the right password plus a pin, set default, a delete with its confirmation, a site's
// mode change and its audit entry, sign-out, and what a viewer and an operator are (not) offered.
// Screenshots of each view go to $CG_BROWSER_ARTIFACTS. Run by tests/browser/run.sh (ctest
// `browser`); by hand: CERTGATE_BIN=build/certgate node tests/browser/ui.test.mjs after npm ci.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.CERTGATE_BIN;
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.CG_BROWSER_ARTIFACTS || 'artifacts');
const PASSWORD = 'Ui-s3cret-Pa55';
const WAIT_MS = 10000;
const started = Date.now();

if (!BIN) {
  console.error('ui.test.mjs: set CERTGATE_BIN to the certgate binary under test');
  process.exit(2);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certgate-ui-'));
const store = `sqlite:${path.join(tmp, 's.db')}`;

// ---- commands ------------------------------------------------------------------------------

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CERTGATE_')) env[k] = v;
  env.ASAN_OPTIONS = env.ASAN_OPTIONS || 'detect_leaks=1';
  return env;
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { cwd: tmp, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000, ...opts })
      .toString();
  } catch (e) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${e.status}):\n${e.stderr || ''}${e.stdout || ''}`);
  }
}

const cg = (...args) => run(BIN, ['--store', store, '--env', 'production', ...args]);
const cgJson = (...args) => JSON.parse(cg(...args, '--json'));
const openssl = (...args) => run('openssl', args);

// ---- the test PKI --------------------------------------------------------------------------

function makePki() {
  const d = path.join(tmp, 'pki');
  fs.mkdirSync(path.join(d, 'issued'), { recursive: true });
  fs.writeFileSync(path.join(d, 'index.txt'), '');
  fs.writeFileSync(path.join(d, 'serial'), '1000\n');
  const cnf = path.join(d, 'openssl.cnf');
  fs.writeFileSync(cnf, `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca]
default_ca = ca_default
[ca_default]
database = ${d}/index.txt
new_certs_dir = ${d}/issued
serial = ${d}/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
organizationName = optional
commonName = supplied
[ext_client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ext_server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:web.test,DNS:shop.test
`);
  const p = (n) => path.join(d, n);
  const key = (n) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(`${n}.key`));
  key('ca');
  openssl('req', '-x509', '-new', '-config', cnf, '-extensions', 'v3_ca', '-key', p('ca.key'),
    '-subj', '/O=certgate UI test/CN=UI Test CA', '-days', '3650', '-out', p('ca.pem'));
  const sign = (n, subj, ext, validity) => {
    key(n);
    openssl('req', '-new', '-config', cnf, '-key', p(`${n}.key`), '-subj', subj, '-out', p(`${n}.csr`));
    openssl('ca', '-batch', '-notext', '-config', cnf, '-cert', p('ca.pem'), '-keyfile', p('ca.key'),
      '-in', p(`${n}.csr`), '-out', p(`${n}.pem`), '-extensions', ext, ...validity);
  };
  sign('client', '/O=certgate UI test/CN=partner client', 'ext_client', ['-days', '365']);
  sign('soon', '/O=certgate UI test/CN=soon.test', 'ext_client', ['-days', '10']);
  sign('old', '/O=certgate UI test/CN=old client', 'ext_client', ['-startdate', '20200101000000Z', '-enddate', '20210101000000Z']);
  sign('server', '/O=certgate UI test/CN=web.test', 'ext_server', ['-days', '365']);
  // a second CA whose subject holds markup: the page must show it as text
  key('markup');
  openssl('req', '-x509', '-new', '-config', cnf, '-extensions', 'v3_ca', '-key', p('markup.key'),
    '-subj', '/O=Tags <img src=x> & co/CN=Partner Root', '-days', '3650', '-out', p('markup.pem'));
  openssl('pkcs12', '-export', '-inkey', p('client.key'), '-in', p('client.pem'), '-certfile', p('ca.pem'),
    '-name', 'partner', '-out', p('client.p12'), '-passout', `pass:${PASSWORD}`);
  const fp = openssl('x509', '-in', p('client.pem'), '-noout', '-fingerprint', '-sha256').trim().split('=')[1];
  const end = openssl('x509', '-in', p('client.pem'), '-noout', '-enddate', '-dateopt', 'iso_8601').trim().split('=')[1];
  return { dir: d, p, clientFingerprint: fp, clientNotAfter: new Date(end.replace(' ', 'T')) };
}

// ---- the daemon ----------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startDaemon() {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawn(BIN, ['--store', store, '--env', 'production', 'serve', '--admin', `127.0.0.1:${port}`],
      { cwd: tmp, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    const d = { proc, port, url: `http://127.0.0.1:${port}`, stderr: '', exited: null };
    proc.stderr.on('data', (b) => { d.stderr += b.toString(); });
    proc.on('exit', (code, sig) => { d.exited = { code, sig }; });
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline && !d.exited) {
      try {
        const r = await fetch(`${d.url}/healthz`);
        if (r.status === 200) return d;
      } catch (e) { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!d.exited) proc.kill('SIGKILL');
    if (!/cannot listen/.test(d.stderr)) throw new Error(`certgate serve did not start:\n${d.stderr}`);
  }
  throw new Error('certgate serve found no free port in 3 attempts');
}

async function stopDaemon(d) {
  if (!d || d.exited) return d && d.exited;
  const done = new Promise((resolve) => d.proc.on('exit', (code, sig) => resolve({ code, sig })));
  d.proc.kill('SIGTERM');
  const t = setTimeout(() => d.proc.kill('SIGKILL'), WAIT_MS);
  const r = await done;
  clearTimeout(t);
  return r;
}

async function apiCall(d, method, p, token, body) {
  const headers = { Authorization: `Bearer ${token}` };
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(`${d.url}/api/v1${p}`, { method, headers, body: payload });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

// ---- page helpers --------------------------------------------------------------------------

// Waits until the locator's text matches (a string: contains; a RegExp: matches).
async function expectText(loc, want) {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  while (Date.now() < deadline) {
    last = (await loc.count()) ? await loc.first().textContent() : '<absent>';
    if (typeof want === 'string' ? last.includes(want) : want.test(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${want} in ${loc}, got: ${last}`);
}

async function signIn(page, token) {
  await page.locator('#signin').waitFor();
  await page.fill('#signin-token', token);
  await page.click('#signin-form button[type=submit]');
  await page.locator('#app').waitFor();
  await page.locator('#view .section-body table, #view .section-body .empty').first().waitFor();
}

async function signOut(page) {
  await page.click('#signout');
  await page.locator('#signin').waitFor();
}

async function closeBanner(page) {
  if (await page.locator('#banner').isVisible()) await page.click('#banner-close');
}

async function shot(page, name, { fullPage = true, banner = false } = {}) {
  if (!banner) await closeBanner(page);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

const certRow = (page, name) => page.locator(`#section-certificates tbody tr[data-name="${name}"]`);

// ---- the test ------------------------------------------------------------------------------

const steps = [];
async function step(name, fn) {
  const t = Date.now();
  await fn();
  steps.push(name);
  console.log(`ok ${steps.length} - ${name} (${Date.now() - t} ms)`);
}

async function main(ctx) {
  let pki;
  const tokens = {};
  await step('test PKI and store (openssl, certgate init, cert/ca/site/profile/token add)', async () => {
    pki = makePki();
    cg('init');
    cg('cert', 'add', 'web-tls', pki.p('server.pem'), '--key', pki.p('server.key'), '--kind', 'server');
    cg('cert', 'add', 'soon', pki.p('soon.pem'), '--key', pki.p('soon.key'));
    cg('cert', 'add', 'old', pki.p('old.pem'), '--key', pki.p('old.key'));
    cg('ca', 'add', 'test-ca', pki.p('ca.pem'));
    cg('site', 'add', 'web', '--backend', 'http://127.0.0.1:9', '--domain', 'web.test=web-tls');
    cg('profile', 'add', 'office', '--allow-ip', '10.0.0.0/8');
    cg('site', 'rule', 'web', '/admin', 'office');
    cg('upstream', 'add', 'partner-api', 'https://api.partner.test/v1', '--ca', 'test-ca');
    for (const role of ['admin', 'operator', 'viewer']) tokens[role] = cgJson('token', 'add', `ui-${role}`, '--role', role).token;
  });

  const d = await startDaemon();
  ctx.daemon = d;
  const browserDir = fs.mkdtempSync(path.join(tmp, 'chromium-'));
  const context = await chromium.launchPersistentContext(browserDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1366, height: 768 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  ctx.context = context;
  const page = context.pages()[0] || await context.newPage();
  ctx.page = page;
  page.setDefaultTimeout(WAIT_MS);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));

  await step('the page is served with a strict CSP and asks for a token', async () => {
    const res = await page.goto(`${d.url}/`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await page.locator('#signin-token').waitFor();
    assert.equal(await page.locator('#app').isVisible(), false);
    await shot(page, 'signin', { fullPage: false });
  });

  await step('a wrong token is refused next to the token field, in the API\'s words', async () => {
    await page.fill('#signin-token', `cg_${'0'.repeat(64)}`);
    await page.click('#signin-form button[type=submit]');
    const err = page.locator('#signin-form .field-error[data-for="token"]');
    await expectText(err, 'not valid');
    assert.equal(await page.locator('#app').isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await step('sign in as admin: environment, revision and role in the header', async () => {
    await signIn(page, tokens.admin);
    const st = (await apiCall(d, 'GET', '/status', tokens.admin)).body;
    await expectText(page.locator('#env-name'), 'production');
    await expectText(page.locator('#env-revision'), `revision ${st.revision}`);
    await expectText(page.locator('#who-role'), 'admin');
    await expectText(page.locator('#who-name'), 'ui-admin');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('certgate.token')), tokens.admin);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await context.cookies(), []);
  });

  await step('certificates: days left as badges (warning < 30 days, error when expired), warnings', async () => {
    await certRow(page, 'old').waitFor();
    const soon = certRow(page, 'soon');
    const soonDays = soon.locator('.days');
    await expectText(soonDays, /^(9|10) days$/);
    assert.match(await soonDays.getAttribute('class'), /badge-warn/);
    const old = certRow(page, 'old');
    await expectText(old.locator('.days'), 'expired');
    assert.match(await old.locator('.days').getAttribute('class'), /badge-bad/);
    await expectText(old.locator('.warnings'), 'expired');
    await expectText(certRow(page, 'web-tls').locator('td').nth(1), 'server');
    // the CA bundle is listed under its own section
    await page.locator('#section-authorities tbody tr[data-name="test-ca"]').waitFor();
  });

  await step('upload with a wrong password: the API\'s error next to the password field, nothing added', async () => {
    const fd = new FormData();
    fd.append('name', 'partner');
    fd.append('kind', 'client');
    fd.append('password', 'wrong-password');
    fd.append('file', new Blob([fs.readFileSync(pki.p('client.p12'))]), 'client.p12');
    const want = await apiCall(d, 'POST', '/certificates', tokens.admin, fd);
    assert.equal(want.status, 400);
    assert.equal(want.body.error, 'wrong_password');

    await page.click('[data-action="add-certificates"]');
    const form = page.locator('form[data-form="certificate"]');
    await form.locator('[data-field="name"]').fill('partner');
    await form.locator('[data-field="kind"]').selectOption('client');
    await form.locator('[data-field="file"]').setInputFiles(pki.p('client.p12'));
    await form.locator('[data-field="password"]').fill('wrong-password');
    await form.locator('[data-field="pins"]').fill('api.partner.test');
    await form.locator('button[type=submit]').click();
    const err = form.locator('.field-error[data-for="password"]');
    await expectText(err.locator('.error-message'), want.body.message);
    assert.match(want.body.message, /client\.p12/);
    if (want.body.hint) await expectText(err.locator('.error-hint'), want.body.hint);
    assert.equal(await form.locator('[data-field="password"]').getAttribute('aria-invalid'), 'true');
    assert.equal(await certRow(page, 'partner').count(), 0);
    assert.ok(!cgJson('cert', 'list').some((c) => c.name === 'partner'), 'a failed upload stored something');
    await shot(page, 'upload-wrong-password', { fullPage: false });
  });

  await step('upload with the right password and a pin: listed with the right fingerprint and days left', async () => {
    const form = page.locator('form[data-form="certificate"]');
    await form.locator('[data-field="password"]').fill(PASSWORD);
    await form.locator('button[type=submit]').click();
    const row = certRow(page, 'partner');
    await row.waitFor();
    await expectText(page.locator('#banner-message'), "Certificate 'partner' added, pinned to api.partner.test");
    const fp = row.locator('.fp-short');
    assert.equal(await fp.getAttribute('title'), `SHA-256 ${pki.clientFingerprint}`);
    assert.equal(await fp.getAttribute('data-fingerprint'), pki.clientFingerprint.replace(/:/g, '').toLowerCase());
    assert.ok((await fp.textContent()).startsWith(pki.clientFingerprint.replace(/:/g, '').toLowerCase().slice(0, 16)));
    const days = Math.floor((pki.clientNotAfter.getTime() - Date.now()) / 86400000);
    const badge = row.locator('.days');
    await expectText(badge, `${days} days`);
    assert.match(await badge.getAttribute('class'), /badge-ok/);
    await expectText(row.locator('td').nth(7), 'api.partner.test');
    await expectText(row.locator('td').nth(2), 'CN=partner client');
    await expectText(page.locator('#section-pins tbody tr[data-target="api.partner.test"]'), 'partner');
    assert.equal(await form.isVisible(), false);
    assert.deepEqual(cgJson('pin', 'list'), [{ target: 'api.partner.test', cert: 'partner', match: 'service or host' }]);
    await shot(page, 'outgoing');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'outgoing-viewport', { fullPage: false });
  });

  await step('set default, and a delete asks first', async () => {
    await certRow(page, 'partner').locator('[data-action="set-default"]').click();
    await certRow(page, 'partner').locator('.default-mark').waitFor();
    assert.equal(cgJson('cert', 'show', 'partner').default, true);
    const pinRow = page.locator('#section-pins tbody tr[data-target="api.partner.test"]');
    await pinRow.locator('[data-action="delete"]').click();
    await page.locator('#confirm').waitFor();
    await expectText(page.locator('#confirm-title'), "Delete pin 'api.partner.test'?");
    await page.click('#confirm-cancel');
    await page.waitForTimeout(200);
    assert.equal(await pinRow.count(), 1, 'cancel removed the pin');
    await pinRow.locator('[data-action="delete"]').click();
    await page.click('#confirm-ok');
    await pinRow.waitFor({ state: 'detached' });
    assert.deepEqual(cgJson('pin', 'list'), []);
  });

  await step('incoming: change a site\'s mode with its select', async () => {
    await page.click('a[data-view="incoming"]');
    const row = page.locator('#section-sites tbody tr[data-name="web"]');
    await row.waitFor();
    await expectText(row, 'web.test');
    await expectText(row, '/admin');
    await expectText(page.locator('#section-profiles tbody tr[data-name="office"]'), '10.0.0.0/8');
    const sel = row.locator('select[data-field="mtls"]');
    assert.equal(await sel.inputValue(), 'off');
    await sel.selectOption('required');
    await expectText(page.locator('#banner-message'), "Site 'web': client certificates are now required");
    assert.equal(cgJson('site', 'show', 'web').mtls, 'required');
    await expectText(row.locator('select[data-field="mtls"]'), 'required');
    assert.equal(await page.locator('#section-sites tbody tr[data-name="web"] select[data-field="mtls"]').inputValue(), 'required');
    await shot(page, 'incoming');
  });

  await step('audit log: the mode change, by the token, expands to before and after', async () => {
    await page.click('a[data-view="audit"]');
    const first = page.locator('tr.audit-row').first();
    await first.waitFor();
    const cells = first.locator('td');
    await expectText(cells.nth(1), 'ui-admin');
    await expectText(cells.nth(2), 'site set');
    await expectText(cells.nth(3), 'site/web');
    await expectText(cells.nth(4), 'changed: mtls');
    const detail = page.locator('tr.audit-detail').first();
    assert.equal(await detail.isVisible(), false);
    await first.click();
    await detail.waitFor();
    await expectText(detail.locator('.json-col').nth(0), '"mtls": "off"');
    await expectText(detail.locator('.json-col').nth(1), '"mtls": "required"');
    await shot(page, 'audit');
  });

  await step('the other forms: CA bundle upload (its subject escaped), upstream, profile, site (and its error), rule', async () => {
    await page.click('a[data-view="outgoing"]');
    await page.click('[data-action="add-authorities"]');
    const caForm = page.locator('form[data-form="authority"]');
    await caForm.locator('[data-field="name"]').fill('partner-root');
    await caForm.locator('[data-field="file"]').setInputFiles(pki.p('markup.pem'));
    await caForm.locator('button[type=submit]').click();
    // a subject holding markup is shown as text, never parsed
    const subject = page.locator('#section-authorities tbody tr[data-name="partner-root"] td.subject');
    await expectText(subject, 'CN=Partner Root');
    await expectText(subject, '<img src=x');
    assert.equal(await subject.locator('img').count(), 0);

    await page.click('[data-action="add-upstreams"]');
    const upForm = page.locator('form[data-form="upstream"]');
    await upForm.locator('[data-field="name"]').fill('billing');
    await upForm.locator('[data-field="url"]').fill('https://billing.partner.test/api');
    await upForm.locator('[data-field="server_name"]').fill('gw.partner.test');
    await upForm.locator('.checks input[value="partner-root"]').check();
    await upForm.locator('button[type=submit]').click();
    await expectText(page.locator('#section-upstreams tbody tr[data-name="billing"]'), 'gw.partner.test');
    const up = cgJson('upstream', 'show', 'billing');
    assert.deepEqual([up.url, up.server_name, up.trust], ['https://billing.partner.test/api', 'gw.partner.test', ['partner-root']]);

    await page.click('a[data-view="incoming"]');
    await page.click('[data-action="add-profiles"]');
    const prForm = page.locator('form[data-form="profile"]');
    await prForm.locator('[data-field="name"]').fill('partners');
    await prForm.locator('[data-field="allow_ips"]').fill('192.0.2.0/24, 2001:db8::/32');
    await prForm.locator('[data-field="client_cas"]').fill('partner-root');
    await prForm.locator('button[type=submit]').click();
    await expectText(page.locator('#section-profiles tbody tr[data-name="partners"]'), '2001:db8::/32');
    const pr = cgJson('profile', 'show', 'partners');
    assert.deepEqual([pr.allow_ips, pr.client_cas], [['192.0.2.0/24', '2001:db8::/32'], [{ ca: 'partner-root', signers: [] }]]);

    await page.click('[data-action="add-sites"]');
    const siteForm = page.locator('form[data-form="site"]');
    await siteForm.locator('[data-field="name"]').fill('shop');
    await siteForm.locator('[data-field="backend"]').fill('http://127.0.0.1:3000');
    await siteForm.locator('[data-field="domains"]').fill('bad_domain');
    await siteForm.locator('[data-field="mtls"]').selectOption('optional');
    await siteForm.locator('.checks input[value="partner-root"]').check();
    await siteForm.locator('button[type=submit]').click();
    await expectText(siteForm.locator('.field-error[data-for="domains"] .error-message'), "domain 'bad_domain'");
    await siteForm.locator('[data-field="domains"]').fill('shop.test');
    await siteForm.locator('button[type=submit]').click();
    const shop = page.locator('#section-sites tbody tr[data-name="shop"]');
    await expectText(shop, 'shop.test');
    const site = cgJson('site', 'show', 'shop');
    assert.deepEqual([site.mtls, site.client_cas, site.domains], ['optional', ['partner-root'], [{ host: 'shop.test', cert: null }]]);

    const ruleForm = page.locator('form[data-form="rule"]');
    await ruleForm.locator('[data-field="site"]').selectOption('shop');
    await ruleForm.locator('[data-field="path"]').fill('/partners');
    await ruleForm.locator('[data-field="profile"]').selectOption('partners');
    await ruleForm.locator('button[type=submit]').click();
    await expectText(shop.locator('.rules'), '/partners → partners');
    assert.deepEqual(cgJson('site', 'show', 'shop').rules, [{ path: '/partners', profile: 'partners' }]);
    await shot(page, 'incoming-forms');
    await shop.locator('[data-action="rm-rule"]').click();
    await page.click('#confirm-ok');
    await shop.locator('.rules').waitFor({ state: 'detached' });
    assert.deepEqual(cgJson('site', 'show', 'shop').rules, []);
  });

  await step('sign out forgets the token', async () => {
    await signOut(page);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await context.cookies(), []);
    await page.reload();
    await page.locator('#signin-token').waitFor();
    assert.equal(await page.locator('#app').isVisible(), false);
  });

  await step('a viewer is offered no change at all', async () => {
    await signIn(page, tokens.viewer);
    await page.click('a[data-view="outgoing"]');
    await expectText(page.locator('#who-role'), 'viewer');
    await certRow(page, 'partner').waitFor();
    for (const sel of ['[data-action^="add-"]', 'form.add-form', '[data-action="delete"]', '[data-action="set-default"]', 'input[type=file]']) {
      assert.equal(await page.locator(`#view ${sel}`).count(), 0, `a viewer is offered ${sel}`);
    }
    await shot(page, 'viewer-outgoing');
    await page.click('a[data-view="incoming"]');
    const row = page.locator('#section-sites tbody tr[data-name="web"]');
    await row.waitFor();
    await expectText(row.locator('.mode'), 'required');
    for (const sel of ['select', 'form', '[data-action]', 'button']) {
      assert.equal(await page.locator(`#view ${sel}`).count(), 0, `a viewer is offered ${sel} on Incoming`);
    }
    await signOut(page);
  });

  await step('an operator manages pins and sites, not certificates; errors next to their field or in the banner', async () => {
    await signIn(page, tokens.operator);
    await page.click('a[data-view="outgoing"]');
    await expectText(page.locator('#who-role'), 'operator');
    await certRow(page, 'partner').waitFor();
    assert.equal(await page.locator('[data-action="add-certificates"]').count(), 0);
    assert.equal(await page.locator('[data-action="add-authorities"]').count(), 0);
    assert.equal(await certRow(page, 'partner').locator('[data-action]').count(), 0);
    assert.equal(await page.locator('#section-authorities [data-action]').count(), 0);
    assert.equal(await page.locator('[data-action="add-pins"]').count(), 1);
    assert.equal(await page.locator('[data-action="add-upstreams"]').count(), 1);
    // the API names the missing field; the command names the bad value: both next to the field
    await page.click('[data-action="add-pins"]');
    const form = page.locator('form[data-form="pin"]');
    await form.locator('button[type=submit]').click();
    await expectText(form.locator('.field-error[data-for="target"] .error-message'), "field 'target' is required");
    await form.locator('[data-field="target"]').fill('bad target!');
    await form.locator('button[type=submit]').click();
    const bad = (await apiCall(d, 'POST', '/pins', tokens.operator, { target: 'bad target!', cert: 'partner' })).body;
    await expectText(form.locator('.field-error[data-for="target"] .error-message'), bad.message);
    await expectText(form.locator('.field-error[data-for="target"] .error-hint'), bad.hint);
    assert.deepEqual(cgJson('pin', 'list'), []);
    // a refusal that concerns no field of a form: in the banner, in the API's words
    await page.click('a[data-view="incoming"]');
    const profile = page.locator('#section-profiles tbody tr[data-name="office"]');
    await profile.locator('[data-action="delete"]').click();
    await page.click('#confirm-ok');
    const inUse = (await apiCall(d, 'DELETE', '/profiles/office', tokens.operator)).body;
    assert.equal(inUse.error, 'in_use');
    await expectText(page.locator('.banner-error #banner-message'), inUse.message);
    assert.equal(await profile.count(), 1);
    await shot(page, 'operator-error', { fullPage: false, banner: true });
    assert.equal(await page.locator('[data-action="add-sites"]').count(), 1);
    await signOut(page);
  });

  await step('no console error (CSP violation, script error) on any view', async () => {
    const unexpected = consoleErrors.filter((m) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(m));
    assert.deepEqual(unexpected, []);
  });

  await step('the daemon logged no secret and stops cleanly', async () => {
    await context.close();
    ctx.context = null;
    const r = await stopDaemon(d);
    assert.deepEqual(r, { code: 0, sig: null }, `certgate serve exited with ${JSON.stringify(r)}:\n${d.stderr}`);
    assert.doesNotMatch(d.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/);
    for (const secret of [...Object.values(tokens), PASSWORD, 'wrong-password']) {
      assert.ok(!d.stderr.includes(secret), 'a secret is in the daemon\'s log');
    }
  });
}

const ctx = { daemon: null, context: null, page: null };
let failed = false;
try {
  await main(ctx);
} catch (e) {
  failed = true;
  console.error(`not ok ${steps.length + 1}: ${e.stack || e}`);
  if (ctx.page && ctx.context) {
    await ctx.page.screenshot({ path: path.join(ARTIFACTS, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`screenshot of the failure: ${path.join(ARTIFACTS, 'failure.png')}`);
  }
  if (ctx.daemon) console.error(`--- certgate serve stderr\n${ctx.daemon.stderr}`);
} finally {
  if (ctx.context) await ctx.context.close().catch(() => {});
  if (ctx.daemon && !ctx.daemon.exited) await stopDaemon(ctx.daemon);
  if (failed) console.error(`the store and PKI are kept in ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${failed ? 'FAILED' : 'passed'}: ${steps.length} steps in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${ARTIFACTS}`);
process.exit(failed ? 1 : 0);
