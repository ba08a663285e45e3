// certgate's web page: sign-in with a token, then the "Network" views over /api/v1 (SPEC.md
// section 4): outgoing connections (certificates, CA bundles, pins, upstreams), incoming (sites,
// rules, profiles) and the audit log. Plain JavaScript, no framework, no build step.
//
// Rules this file keeps:
// - Every piece of data reaches the page through textContent or a property (h() below), never
//   through an HTML parser: names, subjects and messages are data, and data is never markup
//   (tests/unit/admin_ui_test.c refuses the HTML sinks).
// - The token lives in sessionStorage only (this tab; gone on sign-out or when the tab closes).
// - What the signed-in role may not do is not built at all (no disabled buttons): viewer reads,
//   operator changes pins, upstreams, sites, profiles and rules, admin also certificates and CAs.
// - An API error is shown in the API's words (message, then hint) next to the field it concerns
//   ("field" of the error, data_base64 being the file input); other errors go to the banner.

const TOKEN_KEY = 'certgate.token';
const ROLES = { events: -1, viewer: 0, operator: 1, admin: 2 }; // events: may only post events, reads nothing
const EXPIRY_WARN_DAYS = 30;
const AUDIT_PAGE = 50;
const REQUEST_TIMEOUT_MS = 30000;
// API field -> the data-field of the input it concerns (the form's file inputs are named as a
// browser posts them; the API answers with its JSON names)
const FIELD_ALIASES = { data_base64: 'file', key_base64: 'key', chain_base64: 'chain', crl_base64: 'crl' };

const state = { token: null, who: null, status: null, view: null, seq: 0 };

// ---- DOM helpers ---------------------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const PROPS = new Set(['value', 'checked', 'selected', 'hidden', 'disabled', 'multiple', 'required', 'type']);

// h('tag.class', {attr: value, text: '...', onclick: fn, dataset: {...}}, child, ...)
function h(spec, props, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const can = (role) => state.who && ROLES[state.who.role] >= ROLES[role];
const enc = encodeURIComponent;
const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + 's'}`;

// "a, b c" -> ["a", "b", "c"]
function splitList(s) {
  return String(s || '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

// RFC 3339 -> "2026-11-22" (date) or "2026-11-22 14:30:05" (time), both UTC as the CLI prints them
function fmtDate(s) {
  return typeof s === 'string' ? s.slice(0, 10) : '—';
}
function fmtTime(s) {
  return typeof s === 'string' ? s.replace('T', ' ').replace(/Z$/, '') : '—';
}

// lowercase hex -> "AB:CD:…" as `openssl x509 -fingerprint` prints it
function colonHex(hex) {
  return String(hex || '').toUpperCase().replace(/(..)(?=.)/g, '$1:');
}

// ---- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.error || '';
    this.hint = body.hint || '';
    this.field = body.field || '';
    this.handled = false;
  }
}

// method, path under /api/v1, body: an object (sent as JSON), FormData (multipart) or nothing.
// Resolves to the JSON answer (null for 204); rejects with an ApiError.
async function api(method, path, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${state.token}` };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let res;
  let text;
  try {
    res = await fetch(`/api/v1${path}`, {
      method, headers, body: payload, cache: 'no-store', credentials: 'omit', signal: abort.signal,
    });
    text = await res.text();
  } catch (e) {
    throw new ApiError(0, {
      error: 'network',
      message: abort.signal.aborted ? `certgate did not answer ${method} ${path} within 30 s`
        : `certgate cannot be reached (${e.message})`,
      hint: 'check that the daemon is running and that this page is served by it',
    });
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (res.ok) return res.status === 204 ? null : data;
  const err = new ApiError(res.status, data && typeof data === 'object' && data.message ? data
    : { error: 'http', message: `${method} ${path} failed: HTTP ${res.status} ${res.statusText}` });
  if (res.status === 401 && state.who) {
    // the token was removed or expired while signed in: back to the sign-in form, with the reason
    signOut(err);
    err.handled = true;
  }
  throw err;
}

// ---- banner and field errors ---------------------------------------------------------------

let bannerTimer = null;

function banner(kind, message, hint) {
  const b = $('#banner');
  b.className = `banner banner-${kind}`;
  $('#banner-message').textContent = message;
  const hintEl = $('#banner-hint');
  hintEl.textContent = hint ? `hint: ${hint}` : '';
  hintEl.hidden = !hint;
  b.hidden = false;
  b.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  clearTimeout(bannerTimer);
  // errors stay until dismissed; good news fades
  if (kind !== 'error') bannerTimer = setTimeout(() => { b.hidden = true; }, 6000);
}

function hideBanner() {
  clearTimeout(bannerTimer);
  $('#banner').hidden = true;
}

function clearErrors(root) {
  for (const e of $$('.field-error', root)) {
    clear(e);
    e.hidden = true;
  }
  for (const i of $$('[aria-invalid]', root)) i.removeAttribute('aria-invalid');
}

function fillError(el, message, hint) {
  clear(el);
  el.append(h('span.error-message', { text: message }));
  if (hint) el.append(h('span.error-hint', { text: `hint: ${hint}` }));
  el.hidden = false;
}

// The field of root whose value an error message quotes ("URL 'http://a' uses http://"), when
// exactly one does: the API names the field of a malformed request, but a command's own
// validation names the value. The object's name is quoted by most messages ("site 'web': ..."),
// so it counts only when nothing else matches.
function quotedField(root, message) {
  const hits = [];
  for (const el of $$('input[data-field]', root)) {
    if (el.type === 'file' || el.type === 'checkbox' || el.type === 'password') continue;
    const v = el.value.trim();
    if (v && [v, ...splitList(v)].some((c) => message.includes(`'${c}'`))) hits.push(el.dataset.field);
  }
  const others = hits.filter((f) => f !== 'name');
  if (others.length === 1) return others[0];
  return hits.length === 1 ? hits[0] : '';
}

// Shows err next to the field it concerns inside root when root has that field, else in the
// banner. fallbackField: the field to use when neither the API nor the message names one (e.g.
// the file of an upload that was too large).
function showError(root, err, fallbackField) {
  if (err.handled) return;
  let field = FIELD_ALIASES[err.field] || err.field;
  if (!field && root) field = quotedField(root, err.message) || fallbackField;
  const slot = root && field ? $(`.field-error[data-for="${CSS.escape(field)}"]`, root) : null;
  if (!slot) {
    banner('error', err.message, err.hint);
    return;
  }
  fillError(slot, err.message, err.hint);
  const input = $(`[data-field="${CSS.escape(field)}"]`, root);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

function warningsNote(obj) {
  const w = obj && Array.isArray(obj.warnings) ? obj.warnings : [];
  return w.length ? ` — warning: ${w.join('; ')}` : '';
}

// ---- small building blocks -----------------------------------------------------------------

function daysBadge(days, notAfter) {
  if (typeof days !== 'number') return h('span.badge', { text: '—' });
  let cls = 'badge-ok';
  let text = plural(days, 'day');
  let title = `expires ${fmtTime(notAfter)} UTC`;
  if (days < 0) {
    cls = 'badge-bad';
    text = 'expired';
    title = `expired ${plural(-days, 'day')} ago (${fmtTime(notAfter)} UTC)`;
  } else if (days < EXPIRY_WARN_DAYS) {
    cls = 'badge-warn';
    if (days === 0) text = 'today';
  }
  return h(`span.badge.days.${cls}`, { text, title, dataset: { days: String(days) } });
}

function fingerprint(hex) {
  const full = colonHex(hex);
  const copy = h('button.btn-link.copy', { type: 'button', text: 'copy', title: 'Copy the SHA-256 fingerprint' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(full);
      copy.textContent = 'copied';
    } catch (e) {
      // no clipboard (an http:// page on another host than localhost): show it to copy by hand
      banner('ok', `SHA-256 ${full}`);
    }
    setTimeout(() => { copy.textContent = 'copy'; }, 1500);
  });
  return h('span.fp', {},
    h('code.fp-short', {
      text: `${String(hex || '').slice(0, 16)}…`, title: `SHA-256 ${full}`, dataset: { fingerprint: hex || '' },
    }),
    ' ', copy);
}

function list(items, empty = '—') {
  if (!items || !items.length) return h('span.muted', { text: empty });
  return h('ul.plain', {}, items.map((i) => h('li', {}, i)));
}

function warnings(items) {
  if (!items || !items.length) return h('span.muted', { text: '—' });
  return h('ul.plain.warnings', {}, items.map((w) => h('li', { text: w })));
}

// columns: header texts; a null one is left out (the actions column of a role without actions)
function table(columns, rows, emptyText) {
  if (!rows.length) return h('p.empty', { text: emptyText });
  return h('div.table-wrap', {},
    h('table', {},
      h('thead', {}, h('tr', {}, columns.filter((c) => c !== null).map((c) => h('th', { text: c, scope: 'col' })))),
      h('tbody', {}, rows)));
}

function section(id, title, description, addLabel) {
  const count = h('span.count');
  const body = h('div.section-body', {}, h('p.loading', { text: 'Loading…' }));
  const panel = h('div.add-panel', { hidden: true });
  let toggle = null;
  if (addLabel) {
    toggle = h('button.btn.btn-small', { type: 'button', text: `+ ${addLabel}`, dataset: { action: `add-${id}` } });
    toggle.addEventListener('click', () => {
      panel.hidden = !panel.hidden;
      toggle.setAttribute('aria-expanded', String(!panel.hidden));
      if (!panel.hidden) {
        const first = $('input, select', panel);
        if (first) first.focus();
      }
    });
  }
  const el = h('section.card', { id: `section-${id}` },
    h('div.card-head', {},
      h('h2', { text: title }), count, h('span.spacer'), toggle),
    description ? h('p.card-desc', { text: description }) : null,
    panel, body);
  return {
    el, body, panel, toggle,
    setCount(n) { count.textContent = String(n); },
    close() { panel.hidden = true; if (toggle) toggle.setAttribute('aria-expanded', 'false'); },
  };
}

// A form field: label, input, and the slot its errors go to. key: the API's member (data-field),
// posted as `name` when the form is sent as multipart.
let fieldSeq = 0;
function field(label, key, input, help) {
  fieldSeq += 1;
  input.id = `f${fieldSeq}-${key}`;
  input.dataset.field = key;
  return h('div.field', { dataset: { key } },
    h('label', { for: input.id, text: label }),
    input,
    help ? h('p.help', { text: help }) : null,
    h('p.field-error', { dataset: { for: key }, hidden: true }));
}

function textInput(props) {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...props });
}

function select(options, props) {
  const s = h('select', props || {});
  setOptions(s, options);
  return s;
}

// options: [[value, label], ...]; keeps the current choice when it is still offered
function setOptions(sel, options) {
  const keep = sel.value;
  clear(sel);
  for (const [value, label] of options) sel.append(h('option', { value, text: label }));
  if (options.some(([v]) => v === keep)) sel.value = keep;
}

function checkboxGroup(key, names, emptyText) {
  const box = h('div.checks', { dataset: { field: key }, tabindex: '-1' });
  setChecks(box, names, emptyText);
  return box;
}

function setChecks(box, names, emptyText) {
  const checked = new Set($$('input:checked', box).map((i) => i.value));
  clear(box);
  if (!names.length) box.append(h('span.muted.small', { text: emptyText }));
  for (const n of names) {
    box.append(h('label.check', {}, h('input', { type: 'checkbox', value: n, checked: checked.has(n) }), n));
  }
}

const checkedValues = (box) => $$('input:checked', box).map((i) => i.value);

function formShell(submitLabel, fields, onSubmit, extra) {
  const submit = h('button.btn.btn-primary', { type: 'submit', text: submitLabel });
  const form = h('form.add-form', { novalidate: true },
    h('div.form-grid', {}, fields), extra || null,
    h('div.form-actions', {}, submit, h('span.form-status.muted.small')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    $('.form-status', form).textContent = 'Saving…';
    try {
      await onSubmit(form);
    } catch (e) {
      showError(form, e);
    } finally {
      submit.disabled = false;
      $('.form-status', form).textContent = '';
    }
  });
  return form;
}

// Values of a JSON form: {key: trimmed value} for each non-empty text input or select
function formValues(form) {
  const out = {};
  for (const el of $$('input[data-field], select[data-field]', form)) {
    if (el.type === 'file' || el.type === 'checkbox') continue;
    const v = el.value.trim();
    if (v !== '') out[el.dataset.field] = v;
  }
  return out;
}

const confirmDialog = (title, text, okLabel = 'Delete') => new Promise((resolve) => {
  const d = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  d.returnValue = '';
  d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
  d.showModal();
  $('#confirm-cancel').focus();
});

// A button that runs action(); its failure goes to the banner (or next to a field of root)
function actionButton(label, cls, action, props) {
  const b = h(`button.btn.btn-small.${cls}`, { type: 'button', text: label, ...(props || {}) });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      showError(null, e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

// A delete button: confirms, DELETEs path, reports, reloads the view
function deleteButton(what, name, path, consequence) {
  return actionButton('Delete', 'btn-danger', async () => {
    const ok = await confirmDialog(`Delete ${what} '${name}'?`,
      `${consequence || 'This cannot be undone.'} The change is recorded in the audit log.`);
    if (!ok) return;
    await api('DELETE', path);
    banner('ok', `Deleted ${what} '${name}'.`);
    await reload();
  }, { dataset: { action: 'delete', name }, 'aria-label': `Delete ${what} ${name}` });
}

// ---- outgoing connections ------------------------------------------------------------------

function certRow(c, pinnedBy) {
  const actions = [];
  if (can('admin') && c.kind === 'client' && !c.default) {
    actions.push(actionButton('Set default', 'btn-quiet', async () => {
      const r = await api('PUT', `/certificates/${enc(c.name)}`, { default: true });
      banner('ok', `'${c.name}' is now the default client certificate.${warningsNote(r)}`);
      await reload();
    }, { dataset: { action: 'set-default', name: c.name } }));
  }
  if (can('admin')) {
    actions.push(deleteButton('certificate', c.name, `/certificates/${enc(c.name)}`,
      'Its private key is removed from the store.'));
  }
  return h('tr', { dataset: { name: c.name } },
    h('td', {}, h('span.name', { text: c.name }),
      c.default ? h('span.badge.badge-accent.default-mark', { text: 'default', title: 'Used when no pin matches' }) : null),
    h('td', { text: c.kind }),
    h('td.subject', { text: c.subject, title: c.subject }),
    h('td', {}, fingerprint(c.fingerprint_sha256)),
    h('td.nowrap', { text: fmtDate(c.not_after), title: `${fmtTime(c.not_after)} UTC` }),
    h('td', {}, daysBadge(c.days_left, c.not_after)),
    h('td', {}, warnings(c.warnings)),
    h('td', {}, list(pinnedBy.get(c.name) || [])),
    can('admin') ? h('td.actions', {}, actions) : null);
}

function certForm(sec) {
  const kind = select([['client', 'client'], ['server', 'server']], { name: 'kind' });
  const file = h('input', { type: 'file', name: 'file', accept: '.p12,.pfx,.pem,.crt,.cer,.der,.key' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password' });
  const pins = textInput({ placeholder: 'Billing.PaymentService, api.partner.example' });
  const def = h('input', { type: 'checkbox', name: 'default', value: 'true' });
  const key = h('input', { type: 'file', name: 'key', accept: '.pem,.key,.der' });
  const chain = h('input', { type: 'file', name: 'chain', accept: '.pem,.crt' });
  const more = h('details.more', {},
    h('summary', { text: 'PEM with a separate key or chain file' }),
    h('div.form-grid', {}, field('Private key file', 'key', key), field('Chain file', 'chain', chain)));
  const form = formShell('Add certificate', [
    field('Name', 'name', textInput({ name: 'name', placeholder: 'partner-api' })),
    field('Kind', 'kind', kind, 'client: presented to servers; server: to clients'),
    field('File (PKCS#12, PEM or DER)', 'file', file),
    field('Password', 'password', password, 'of the PKCS#12 or the encrypted key; never stored'),
    field('Pins (comma-separated)', 'pins', pins, 'services or hosts that present it'),
    h('div.field.field-check', {}, h('label.check', {}, def, 'Default client certificate'),
      h('p.field-error', { dataset: { for: 'default' }, hidden: true })),
  ], async (f) => {
    // exactly what a browser form posts: name, kind, file, password, key, chain, default
    const body = new FormData(f);
    const targets = splitList(pins.value);
    let cert;
    try {
      cert = await api('POST', '/certificates', body);
    } catch (e) {
      showError(f, e, e.status === 413 ? 'file' : '');
      return;
    }
    const failed = [];
    for (const t of targets) {
      try {
        await api('PUT', `/pins/${enc(t)}`, { cert: cert.name });
      } catch (e) {
        if (e.handled) return;
        failed.push(e.hint ? `'${t}': ${e.message} (hint: ${e.hint})` : `'${t}': ${e.message}`);
      }
    }
    f.reset();
    sec.close();
    const pinned = targets.length - failed.length;
    if (failed.length) {
      const what = plural(failed.length, 'pin was', 'pins were');
      banner('error', `Certificate '${cert.name}' was added, but ${what} refused: ${failed.join('; ')}`,
        'add the pins again under Pins');
    } else {
      const where = pinned ? `, pinned to ${targets.join(', ')}` : '';
      banner('ok', `Certificate '${cert.name}' added${where}.${warningsNote(cert)}`);
    }
    await reload();
  }, more);
  form.dataset.form = 'certificate';
  return form;
}

function caRow(c) {
  const n = Array.isArray(c.certificates) ? c.certificates.length : 1;
  return h('tr', { dataset: { name: c.name } },
    h('td', {}, h('span.name', { text: c.name })),
    h('td.subject', { text: c.subject, title: c.subject },
      n > 1 ? h('span.muted', { text: ` (+${n - 1} more)` }) : null),
    h('td', { text: String(n) }),
    h('td', {}, fingerprint(c.fingerprint_sha256)),
    h('td.nowrap', { text: fmtDate(c.not_after) }),
    h('td', {}, daysBadge(c.days_left, c.not_after)),
    h('td', { text: Array.isArray(c.crls) ? String(c.crls.length) : '0' }),
    h('td', {}, warnings(c.warnings)),
    can('admin') ? h('td.actions', {}, deleteButton('CA bundle', c.name, `/authorities/${enc(c.name)}`)) : null);
}

function caForm(sec) {
  const form = formShell('Add CA bundle', [
    field('Name', 'name', textInput({ name: 'name', placeholder: 'partner-root' })),
    field('CA certificates (PEM or DER)', 'file',
      h('input', { type: 'file', name: 'file', accept: '.pem,.crt,.cer,.der' })),
    field('CRL (optional)', 'crl', h('input', { type: 'file', name: 'crl', accept: '.pem,.crl,.der' })),
  ], async (f) => {
    let ca;
    try {
      ca = await api('POST', '/authorities', new FormData(f));
    } catch (e) {
      showError(f, e, e.status === 413 ? 'file' : '');
      return;
    }
    f.reset();
    sec.close();
    banner('ok', `CA bundle '${ca.name}' added.${warningsNote(ca)}`);
    await reload();
  });
  form.dataset.form = 'authority';
  return form;
}

function pinRow(p) {
  return h('tr', { dataset: { target: p.target } },
    h('td', {}, h('code', { text: p.target })),
    h('td', {}, p.cert ? h('span', { text: p.cert })
      : h('span.muted', { text: 'none — no certificate is presented' })),
    h('td.muted', { text: p.match }),
    can('operator') ? h('td.actions', {}, deleteButton('pin', p.target, `/pins/${enc(p.target)}`,
      'Requests to it fall back to a less specific pin or the default certificate.')) : null);
}

function pinForm(sec) {
  const cert = select([], {});
  const form = formShell('Add pin', [
    field('Target (service, host, host:port or *.domain)', 'target', textInput({ placeholder: 'api.partner.example' })),
    field('Certificate', 'cert', cert),
  ], async (f) => {
    // an empty target is left out: the API then names the missing field
    const v = formValues(f);
    const p = await api('POST', '/pins', { ...v, cert: v.cert || null });
    f.reset();
    sec.close();
    banner('ok', `Pin '${p.target}' → ${p.cert || 'none'} saved.${warningsNote(p)}`);
    await reload();
  });
  form.dataset.form = 'pin';
  return { form, cert };
}

function upstreamRow(u) {
  const trust = u.trust === 'system+env' ? h('span.muted', { text: 'system + environment CAs' }) : list(u.trust);
  const ms = (t) => (t === null || t === undefined ? 'default' : `${t} ms`);
  return h('tr', { dataset: { name: u.name } },
    h('td', {}, h('span.name', { text: u.name })),
    h('td', {}, h('code', { text: u.url })),
    h('td', {}, trust),
    h('td', { text: u.server_name }),
    h('td', {}, u.spki_sha256 ? h('code.small', { text: `${u.spki_sha256.slice(0, 12)}…`, title: u.spki_sha256 })
      : h('span.muted', { text: '—' })),
    h('td.small', { text: `connect ${ms(u.connect_timeout_ms)}, response ${ms(u.timeout_ms)}` }),
    can('operator') ? h('td.actions', {}, deleteButton('upstream', u.name, `/upstreams/${enc(u.name)}`)) : null);
}

function upstreamForm(sec) {
  const trust = checkboxGroup('trust', [], 'no CA bundles: the system roots are trusted');
  const form = formShell('Add upstream', [
    field('Name', 'name', textInput({ placeholder: 'partner' })),
    field('URL', 'url', textInput({ placeholder: 'https://api.partner.example/v1' })),
    field('Server name (optional)', 'server_name', textInput({ placeholder: 'the URL\'s host' })),
    h('div.field.field-wide', {},
      h('span.label', { text: 'Trust only these CA bundles (none checked: system + environment)' }), trust,
      h('p.field-error', { dataset: { for: 'trust' }, hidden: true })),
  ], async (f) => {
    const body = formValues(f);
    const cas = checkedValues(trust);
    if (cas.length) body.trust = cas;
    const u = await api('POST', '/upstreams', body);
    f.reset();
    sec.close();
    banner('ok', `Upstream '${u.name}' added.${warningsNote(u)}`);
    await reload();
  });
  form.dataset.form = 'upstream';
  return { form, trust };
}

async function outgoingView(main) {
  const certs = section('certificates', 'Client and server certificates',
    'Client certificates are presented to the servers certgate calls, as the pins choose; '
    + 'server certificates are presented by the sites of Incoming.',
    can('admin') ? 'Add certificate' : null);
  const cas = section('authorities', 'Certificate authorities',
    'CA bundles that verify servers (upstreams) and client certificates (sites and profiles).',
    can('admin') ? 'Add CA bundle' : null);
  const pins = section('pins', 'Pins',
    'Which client certificate goes to which service or host. The most specific pin wins: '
    + 'service, host:port, host, *.domain, then the default certificate.',
    can('operator') ? 'Add pin' : null);
  const ups = section('upstreams', 'Upstreams',
    'Named destinations applications reach with Host: NAME on the egress listener, each with its own trust.',
    can('operator') ? 'Add upstream' : null);
  append(main, [certs.el, pins.el, cas.el, ups.el]);

  let pinF = null;
  let upF = null;
  if (can('admin')) {
    certs.panel.append(certForm(certs));
    cas.panel.append(caForm(cas));
  }
  if (can('operator')) {
    pinF = pinForm(pins);
    pins.panel.append(pinF.form);
    upF = upstreamForm(ups);
    ups.panel.append(upF.form);
  }

  return async () => {
    const [certList, pinList, upList] = await Promise.all([
      api('GET', '/certificates'), api('GET', '/pins'), api('GET', '/upstreams')]);
    const leafs = certList.filter((c) => c.kind !== 'ca');
    const bundles = certList.filter((c) => c.kind === 'ca');
    const pinnedBy = new Map();
    for (const p of pinList) if (p.cert) pinnedBy.set(p.cert, [...(pinnedBy.get(p.cert) || []), p.target]);

    certs.setCount(leafs.length);
    clear(certs.body).append(table(
      ['Name', 'Kind', 'Subject', 'Fingerprint (SHA-256)', 'Not after', 'Days left', 'Warnings', 'Pinned by',
        can('admin') ? '' : null],
      leafs.map((c) => certRow(c, pinnedBy)),
      can('admin') ? 'No certificates yet: add one with its file and password.' : 'No certificates yet.'));

    cas.setCount(bundles.length);
    clear(cas.body).append(table(
      ['Name', 'Subject', 'Certificates', 'Fingerprint (SHA-256)', 'Not after', 'Days left', 'CRLs', 'Warnings',
        can('admin') ? '' : null],
      bundles.map(caRow), 'No CA bundles.'));

    pins.setCount(pinList.length);
    clear(pins.body).append(table(['Target', 'Certificate', 'Match', can('operator') ? '' : null],
      pinList.map(pinRow), 'No pins: every request presents the default client certificate, if any.'));

    ups.setCount(upList.length);
    clear(ups.body).append(table(['Name', 'URL', 'Trust', 'Server name', 'SPKI pin', 'Timeouts', can('operator') ? '' : null],
      upList.map(upstreamRow), 'No upstreams.'));

    if (pinF) {
      setOptions(pinF.cert, [...leafs.filter((c) => c.kind === 'client').map((c) => [c.name, c.name]),
        ['', 'none — present no certificate']]);
    }
    if (upF) setChecks(upF.trust, bundles.map((b) => b.name), 'no CA bundles: the system roots are trusted');
  };
}

// ---- incoming ------------------------------------------------------------------------------

const MTLS_MODES = [['off', 'off'], ['optional', 'optional'], ['required', 'required']];

function domainItem(d) {
  return h('span', {}, h('code', { text: d.host }), ' ',
    d.cert ? h('span.muted', { text: `→ ${d.cert}` }) : h('span.muted', {
      text: '(cert by SAN)', title: 'the server certificate whose SANs cover the host and that is valid longest',
    }));
}

function modeCell(site) {
  if (!can('operator')) return h('td', {}, h(`span.badge.mode.mode-${site.mtls}`, { text: site.mtls }));
  const sel = select(MTLS_MODES,
    { 'aria-label': `mTLS mode of site ${site.name}`, dataset: { field: 'mtls', site: site.name } });
  sel.value = site.mtls;
  const cell = h('td.mode-cell', {}, sel, h('p.field-error', { dataset: { for: 'mtls' }, hidden: true }));
  sel.addEventListener('change', async () => {
    clearErrors(cell);
    sel.disabled = true;
    try {
      const r = await api('PUT', `/sites/${enc(site.name)}`, { mtls: sel.value });
      banner('ok', `Site '${site.name}': client certificates are now ${r.mtls}.${warningsNote(r)}`);
      await reload();
    } catch (e) {
      sel.value = site.mtls;
      showError(cell, e, 'mtls');
    } finally {
      sel.disabled = false;
    }
  });
  return cell;
}

function ruleItem(site, r) {
  return h('li.rule', {}, h('code', { text: r.path }), ' → ', h('span', { text: r.profile }),
    can('operator') ? actionButton('×', 'btn-link-danger', async () => {
      const ok = await confirmDialog(`Remove the rule '${r.path}' of site '${site}'?`,
        'Requests to that path are then decided by a shorter rule, or allowed when none is left.', 'Remove');
      if (!ok) return;
      await api('DELETE', `/sites/${enc(site)}/rules/${enc(r.path)}`);
      banner('ok', `Rule '${r.path}' of site '${site}' removed.`);
      await reload();
    }, { title: 'Remove this rule', 'aria-label': `Remove rule ${r.path} of site ${site}`, dataset: { action: 'rm-rule' } })
      : null);
}

function siteRow(s) {
  return h('tr', { dataset: { name: s.name } },
    h('td', {}, h('span.name', { text: s.name })),
    h('td', {}, h('code', { text: s.backend })),
    modeCell(s),
    h('td', {}, list((s.domains || []).map(domainItem))),
    h('td', {}, s.mtls_domain ? domainItem(s.mtls_domain) : h('span.muted', { text: '—' })),
    h('td', {}, list(s.client_cas)),
    h('td', {}, s.rules && s.rules.length ? h('ul.plain.rules', {}, s.rules.map((r) => ruleItem(s.name, r)))
      : h('span.muted', { text: 'none: all allowed' })),
    can('operator') ? h('td.actions', {},
      deleteButton('site', s.name, `/sites/${enc(s.name)}`, 'Its rules are removed with it.')) : null);
}

function siteForm(sec) {
  const cas = checkboxGroup('client_cas', [], 'no CA bundles yet');
  const form = formShell('Add site', [
    field('Name', 'name', textInput({ placeholder: 'shop' })),
    field('Backend', 'backend', textInput({ placeholder: 'http://127.0.0.1:3000' })),
    field('Domains (comma-separated, host or host=cert)', 'domains', textInput({ placeholder: 'shop.example.com' })),
    field('mTLS domain (optional)', 'mtls_domain', textInput({ placeholder: 'mtls.shop.example.com' })),
    field('Client certificates', 'mtls', select(MTLS_MODES)),
    h('div.field.field-wide', {}, h('span.label', { text: 'Client CAs' }), cas,
      h('p.field-error', { dataset: { for: 'client_cas' }, hidden: true })),
  ], async (f) => {
    const v = formValues(f);
    const body = { ...v, domains: splitList(v.domains) };
    const chosen = checkedValues(cas);
    if (chosen.length) body.client_cas = chosen;
    const s = await api('POST', '/sites', body);
    f.reset();
    sec.close();
    banner('ok', `Site '${s.name}' added.${warningsNote(s)}`);
    await reload();
  });
  form.dataset.form = 'site';
  return { form, cas };
}

function ruleForm() {
  const site = select([], {});
  const profile = select([], {});
  const form = formShell('Add rule', [
    field('Site', 'site', site),
    field('Path prefix', 'path', textInput({ placeholder: '/admin' })),
    field('Profile', 'profile', profile),
  ], async (f) => {
    const v = formValues(f);
    if (!v.site) {
      throw new ApiError(400, { message: 'there is no site to add a rule to', hint: 'add a site first', field: 'site' });
    }
    const r = await api('POST', `/sites/${enc(v.site)}/rules`, { path: v.path, profile: v.profile });
    $('[data-field="path"]', f).value = '';
    banner('ok', `Rule added to site '${v.site}'.${warningsNote(r)}`);
    await reload();
  });
  form.dataset.form = 'rule';
  return { form, site, profile };
}

function profileRow(p) {
  const cas = (p.client_cas || []).map((c) => h('span', {}, c.ca,
    c.signers && c.signers.length
      ? h('span.muted', { text: ` (${plural(c.signers.length, 'selected signer')})`, title: c.signers.join('\n') })
      : null));
  const rules = (p.rules || []).map((r) => h('span', {}, `${r.site} `, h('code', { text: r.path })));
  return h('tr', { dataset: { name: p.name } },
    h('td', {}, h('span.name', { text: p.name })),
    h('td', {}, list((p.allow_ips || []).map((x) => h('code', { text: x })))),
    h('td', {}, list((p.deny_ips || []).map((x) => h('code', { text: x })))),
    h('td', {}, list(cas)),
    h('td', {}, list(rules, 'no rule')),
    can('operator') ? h('td.actions', {}, deleteButton('profile', p.name, `/profiles/${enc(p.name)}`)) : null);
}

// "a, b@FP1,FP2 c" -> ["a", "b@FP1,FP2", "c"]: a fingerprint after a comma belongs to the
// bundle before it (CA@FP[,FP...], as the CLI's --client-ca takes it)
function signerList(s) {
  const out = [];
  for (const tok of splitList(s)) {
    const last = out.length ? out[out.length - 1] : '';
    if (/^[0-9a-fA-F:]{64,95}$/.test(tok) && last.includes('@')) out[out.length - 1] = `${last},${tok}`;
    else out.push(tok);
  }
  return out;
}

function profileForm(sec) {
  const form = formShell('Add profile', [
    field('Name', 'name', textInput({ placeholder: 'office' })),
    field('Allowed ranges', 'allow_ips', textInput({ placeholder: '203.0.113.0/24, 2001:db8::/32' })),
    field('Denied ranges', 'deny_ips', textInput({ placeholder: '203.0.113.7' })),
    field('Client CAs', 'client_cas', textInput({ placeholder: 'partners-ca, other-ca@FINGERPRINT' }),
      'CA bundles whose certificates pass; CA@FP selects one certificate of a bundle'),
  ], async (f) => {
    const v = formValues(f);
    const body = { name: v.name || '' };
    for (const k of ['allow_ips', 'deny_ips']) if (v[k]) body[k] = splitList(v[k]);
    if (v.client_cas) body.client_cas = signerList(v.client_cas);
    const p = await api('POST', '/profiles', body);
    f.reset();
    sec.close();
    banner('ok', `Profile '${p.name}' added.${warningsNote(p)}`);
    await reload();
  });
  form.dataset.form = 'profile';
  return form;
}

async function incomingView(main) {
  const sites = section('sites', 'Sites',
    'Applications behind certgate: the names they answer on, whether clients must present a certificate, '
    + 'and the backend requests go to. A change applies within a second.',
    can('operator') ? 'Add site' : null);
  const profiles = section('profiles', 'Access profiles',
    'Who passes a rule: clients from the allowed ranges, or with a certificate from one of the client CAs, '
    + 'unless their address is denied.',
    can('operator') ? 'Add profile' : null);
  append(main, [sites.el, profiles.el]);
  let siteF = null;
  let ruleF = null;
  if (can('operator')) {
    siteF = siteForm(sites);
    sites.panel.append(siteF.form);
    profiles.panel.append(profileForm(profiles));
    ruleF = ruleForm();
  }
  const rulesBox = ruleF ? h('div.rules-box', {}, h('h3', { text: 'Add a path rule' }),
    h('p.card-desc', {
      text: 'Requests whose path starts with the prefix are decided by the profile '
        + '(allow-all and deny-all are presets); the longest prefix wins.',
    }),
    ruleF.form) : null;
  if (rulesBox) sites.el.append(rulesBox);

  return async () => {
    const [siteList, profileList, certList] = await Promise.all([
      api('GET', '/sites'), api('GET', '/profiles'), api('GET', '/authorities')]);
    sites.setCount(siteList.length);
    clear(sites.body).append(table(
      ['Name', 'Backend', 'Client certificates', 'Domains', 'mTLS domain', 'Client CAs', 'Rules',
        can('operator') ? '' : null],
      siteList.map(siteRow), 'No sites.'));
    profiles.setCount(profileList.length);
    clear(profiles.body).append(table(
      ['Name', 'Allowed', 'Denied', 'Client CAs', 'Used by', can('operator') ? '' : null],
      profileList.map(profileRow), 'No profiles.'));
    if (siteF) setChecks(siteF.cas, certList.map((c) => c.name), 'no CA bundles yet');
    if (ruleF) {
      setOptions(ruleF.site, siteList.map((s) => [s.name, s.name]));
      const presets = [['allow-all', 'allow-all'], ['deny-all', 'deny-all']];
      setOptions(ruleF.profile, [...profileList.map((p) => [p.name, p.name]), ...presets]);
      rulesBox.hidden = siteList.length === 0;
    }
  };
}

// ---- audit log -----------------------------------------------------------------------------

function changedKeys(before, after) {
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const moving = ['updated_at', 'days_left']; // change without anyone changing the object
  return [...keys].filter((k) => !moving.includes(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

function jsonBlock(title, v, none) {
  return h('div.json-col', {}, h('h4', { text: title }),
    v === null || v === undefined ? h('p.muted', { text: none }) : h('pre.json', { text: JSON.stringify(v, null, 2) }));
}

function auditRows(rec) {
  const changed = changedKeys(rec.before, rec.after);
  let summary;
  if (!rec.before && rec.after) summary = 'created';
  else if (rec.before && !rec.after) summary = 'removed';
  else summary = changed.length ? `changed: ${changed.join(', ')}` : '';
  const detail = h('tr.audit-detail', { hidden: true },
    h('td', { colspan: '5' }, h('div.json-cols', {},
      jsonBlock('Before', rec.before, 'did not exist'), jsonBlock('After', rec.after, 'removed'))));
  const row = h('tr.audit-row', { tabindex: '0', 'aria-expanded': 'false', dataset: { id: String(rec.id) } },
    h('td.nowrap', {}, h('span.caret', { 'aria-hidden': 'true' }), fmtTime(rec.time)),
    h('td', { text: rec.actor }),
    h('td', {}, h('code', { text: rec.action })),
    h('td', {}, h('code', { text: rec.object })),
    h('td.muted', { text: summary }));
  const toggle = () => {
    detail.hidden = !detail.hidden;
    row.setAttribute('aria-expanded', String(!detail.hidden));
  };
  row.addEventListener('click', toggle);
  row.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      toggle();
    }
  });
  return [row, detail];
}

async function auditView(main) {
  const sec = section('audit', 'Audit log',
    'Every change made with the command line or this API, newest first: who, when, what, and the object '
    + 'before and after (never a secret). Click a row for the details.', null);
  main.append(sec.el);
  const more = h('button.btn.btn-small', { type: 'button', text: 'Older entries', hidden: true });
  let tbody = null;
  let oldest = null;
  let shown = 0;
  const page = async (first) => {
    const q = `?limit=${AUDIT_PAGE}${first || oldest === null ? '' : `&before=${oldest}`}`;
    const recs = await api('GET', `/audit${q}`);
    if (first) {
      shown = 0;
      tbody = h('tbody');
      clear(sec.body).append(recs.length ? h('div.table-wrap', {}, h('table.audit', {},
        h('thead', {}, h('tr', {},
          ['Time (UTC)', 'Actor', 'Action', 'Object', 'Change'].map((c) => h('th', { text: c, scope: 'col' })))),
        tbody)) : h('p.empty', { text: 'No changes recorded yet.' }), more);
    }
    for (const r of recs) append(tbody, auditRows(r));
    shown += recs.length;
    if (recs.length) oldest = recs[recs.length - 1].id;
    sec.setCount(shown);
    more.hidden = recs.length < AUDIT_PAGE;
  };
  more.addEventListener('click', () => page(false).catch((e) => showError(null, e)));
  return () => page(true);
}

// ---- views, sign-in, start -----------------------------------------------------------------

const VIEWS = { outgoing: outgoingView, incoming: incomingView, audit: auditView };
let refreshView = null;

function currentView() {
  const m = /^#\/(\w+)/.exec(location.hash);
  return m && VIEWS[m[1]] ? m[1] : 'outgoing';
}

async function showView() {
  const name = currentView();
  state.view = name;
  const seq = ++state.seq;
  for (const a of $$('.tabs a')) a.classList.toggle('active', a.dataset.view === name);
  for (const a of $$('.tabs a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = clear($('#view'));
  main.dataset.view = name;
  main.setAttribute('aria-busy', 'true');
  const refresh = await VIEWS[name](main);
  if (seq !== state.seq) return; // another view was chosen meanwhile
  refreshView = refresh;
  await reload();
}

// Reloads the current view's data and the header (the revision moves with every change).
async function reload() {
  const main = $('#view');
  main.setAttribute('aria-busy', 'true');
  try {
    await Promise.all([refreshView ? refreshView() : null, loadStatus()]);
  } catch (e) {
    showError(null, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

async function loadStatus() {
  const st = await api('GET', '/status');
  state.status = st;
  $('#env-name').textContent = st.environment || '?';
  document.title = `certgate · ${st.environment || '?'}`;
  const failures = st.reload_failures || 0;
  const failed = failures ? ` · ${plural(failures, 'reload failure')}` : '';
  $('#env-revision').textContent = `revision ${st.revision}${failed}`;
  $('#env-revision').classList.toggle('reload-failed', failures > 0);
  const age = Math.round((st.snapshot_age_ms || 0) / 1000);
  $('#env-revision').title = `configuration revision ${st.revision}, loaded ${age} s ago`;
}

function showSignIn(err) {
  $('#app').hidden = true;
  $('#signin').hidden = false;
  const form = $('#signin-form');
  clearErrors(form);
  if (err) showError(form, err, 'token');
  $('#signin-token').focus();
}

function signOut(err) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.who = null;
  state.status = null;
  refreshView = null;
  state.seq += 1;
  clear($('#view'));
  hideBanner();
  showSignIn(err);
}

async function signIn(token) {
  state.token = token;
  const who = await api('GET', '/whoami');
  state.who = who;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('#who-name').textContent = who.name;
  const role = $('#who-role');
  role.textContent = who.role;
  role.className = `chip chip-role chip-${who.role}`;
  role.title = {
    viewer: 'viewer: reads everything, changes nothing',
    operator: 'operator: changes pins, upstreams, sites, profiles and rules',
    admin: 'admin: also certificates and CA bundles',
  }[who.role] || '';
  $('#signin').hidden = true;
  $('#app').hidden = false;
  await showView();
}

function start() {
  $('#banner-close').addEventListener('click', hideBanner);
  $('#signout').addEventListener('click', () => signOut());
  $('#refresh').addEventListener('click', () => reload());
  window.addEventListener('hashchange', () => {
    if (state.who) showView().catch((e) => showError(null, e));
  });
  $('#signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    clearErrors(form);
    const token = $('#signin-token').value.trim();
    if (!token) {
      const hint = 'an admin makes one with: certgate token add NAME --role viewer';
      showError(form, new ApiError(400, { message: 'enter a token', hint, field: 'token' }));
      return;
    }
    try {
      await signIn(token);
      $('#signin-token').value = '';
    } catch (e) {
      state.token = null;
      state.who = null;
      showError(form, e, 'token');
    }
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (!saved) {
    showSignIn();
    return;
  }
  signIn(saved).catch((e) => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.who = null;
    showSignIn(e);
  });
}

start();
