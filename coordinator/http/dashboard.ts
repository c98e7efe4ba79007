/**
 * The dashboard: one self-contained page (no build, no external assets) that polls `/api/checks` and
 * `/api/incidents` every 2 s and shows a check × region table of verdicts with uptime, and the open
 * incidents. Everything from the API is inserted as text, never as HTML. When the API needs a token,
 * open the page as `/#token=<read token>`: the fragment never leaves the browser.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lookout</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2433; background: #f6f7f9; }
  body { margin: 0; padding: 1.5rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  #status { color: #667; font-size: .85rem; }
  #status.stale { color: #b42318; font-weight: 600; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
  th, td { padding: .45rem .7rem; border-bottom: 1px solid #e4e7ec; text-align: left; vertical-align: top; }
  th { background: #eef0f4; font-size: .85rem; }
  td.verdict { text-align: center; min-width: 7rem; }
  .pill { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-weight: 600; font-size: .85rem; }
  .up .pill { background: #d1fadf; color: #05603a; }
  .down .pill { background: #fee4e2; color: #b42318; }
  .no-data .pill { background: #eaecf0; color: #475467; }
  .degraded .pill { background: #fef0c7; color: #93370d; }
  .meta { display: block; font-size: .75rem; color: #667; margin-top: .2rem; }
  .muted { color: #667; }
  .global { color: #b42318; font-weight: 700; }
  .regional { color: #b54708; font-weight: 700; }
</style>
</head>
<body>
<h1>Lookout</h1>
<div id="status">loading…</div>
<h2>Checks</h2>
<table id="checks"><thead></thead><tbody></tbody></table>
<h2>Open incidents</h2>
<table id="incidents">
  <thead><tr><th>Check</th><th>Scope</th><th>Failing regions</th><th>Since</th><th>Last errors</th></tr></thead>
  <tbody></tbody>
</table>
<script>
"use strict";
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const pct = (ratio) => ratio === null || ratio === undefined ? '–' : (ratio * 100).toFixed(ratio === 1 ? 0 : 2) + '%';
const ago = (ms) => {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? s + 's ago' : s < 3600 ? Math.round(s / 60) + 'm ago' : s < 86400 ? Math.round(s / 3600) + 'h ago' : Math.round(s / 86400) + 'd ago';
};

function renderChecks(data) {
  const regions = [...new Set(data.checks.flatMap((c) => c.regions.map((r) => r.region)))].sort();
  const table = document.getElementById('checks');
  table.tHead.replaceChildren(el('tr', {}, el('th', {}, 'Check'), ...regions.map((r) => el('th', {}, r)), el('th', {}, 'Incident')));
  const rows = data.checks.map((check) => {
    const cells = regions.map((region) => {
      const r = check.regions.find((x) => x.region === region);
      if (!r) return el('td', { class: 'verdict muted' }, '');
      const title = r.lastError ? r.lastError.code + ': ' + r.lastError.message : '';
      return el('td', { class: 'verdict ' + r.status, 'data-region': region, title },
        el('span', { class: 'pill' }, r.status),
        el('span', { class: 'meta' }, '1h ' + pct(r.uptime && r.uptime['1h']) + ' · 24h ' + pct(r.uptime && r.uptime['24h'])),
        el('span', { class: 'meta' }, '7d ' + pct(r.uptime && r.uptime['7d']) + ' · 30d ' + pct(r.uptime && r.uptime['30d'])),
        el('span', { class: 'meta' }, 'since ' + ago(r.since)));
    });
    const incident = check.incident
      ? el('span', { class: check.incident.scope }, check.incident.scope + ': ' + check.incident.failingRegions.join(', '))
      : el('span', { class: 'muted' }, 'none');
    return el('tr', { 'data-check': check.id },
      el('td', {}, el('strong', {}, check.name), el('span', { class: 'meta' }, check.id + ' · v' + check.version + ' · ' + check.target)),
      ...cells, el('td', {}, incident));
  });
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { class: 'muted', colspan: String(regions.length + 2) }, 'No checks deployed yet (lookout deploy).'))]));
}

function renderIncidents(data) {
  const rows = data.open.map((i) => el('tr', {},
    el('td', {}, i.checkId),
    el('td', { class: i.scope }, i.scope),
    el('td', {}, i.failingRegions.join(', ')),
    el('td', {}, ago(i.firstFailureAt)),
    el('td', {}, Object.entries(i.lastErrors).map(([region, e]) => region + ': ' + e.code + ' ' + e.message).join(' | '))));
  document.getElementById('incidents').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { class: 'muted', colspan: '5' }, 'No open incidents.'))]));
}

async function refresh() {
  const status = document.getElementById('status');
  try {
    const [checks, incidents] = await Promise.all(['/api/checks', '/api/incidents?state=open'].map(async (path) => {
      // A read token may come in the URL fragment (/#token=lk_…): fragments are never sent to servers or logged.
      const token = new URLSearchParams(location.hash.slice(1)).get('token');
      const response = await fetch(path, { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json().catch(() => null);
        throw new Error((body && body.error ? body.error.code : 'HTTP ' + response.status) + ': open this page as /#token=<a token with the read scope>');
      }
      if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
      return response.json();
    }));
    renderChecks(checks);
    renderIncidents(incidents);
    status.className = '';
    status.textContent = 'Updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    status.className = 'stale';
    status.textContent = 'Cannot reach the coordinator (' + error.message + '); showing the last data.';
  } finally {
    setTimeout(refresh, 2000);
  }
}
refresh();
</script>
</body>
</html>
`;
