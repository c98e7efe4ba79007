/**
 * The dashboard: one self-contained page (no build, no external assets) that polls `/api/checks` and
 * `/api/incidents` every 2 s and shows a check × region table of verdicts with uptime, and the open
 * incidents, each with why its regions fail: the differences between the failing and passing regions, a
 * per-region comparison of their network facts, and the path trace of each failing region (the incident's
 * `evidence`). Everything from the API is inserted as text, never as HTML. When the API needs a token,
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
  .why { margin: .75rem 0 1.5rem; }
  .why h3 { font-size: 1rem; margin: 1rem 0 .35rem; }
  .why ol { margin: .25rem 0 .75rem; padding-left: 1.4rem; }
  .why ol li:first-child { font-weight: 700; }
  .why td.failing, .why th.failing { background: #fef3f2; }
  .why td.differs { color: #b42318; font-weight: 600; }
  .why table { font-size: .85rem; margin-bottom: .75rem; }
  .why code { font-size: .8rem; }
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
<div id="why"></div>
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

/** One row per fact, one column per region (failing first); a failing region's cell that no passing region shares is marked. */
const FACTS = [
  ['Result', (r) => r.outcome === 'pass' ? (r.statusCode !== null ? 'status ' + r.statusCode : 'pass') : (r.statusCode !== null ? 'status ' + r.statusCode + (r.code && r.code !== 'ASSERTION_FAILED' ? ' (' + r.code + ')' : '') : (r.code || 'fail'))],
  ['Resolves to', (r) => r.network ? (r.network.addresses.join(', ') || 'nothing') : '–'],
  ['Connected to', (r) => r.network && r.network.connectedAddress ? r.network.connectedAddress + (r.network.port ? ':' + r.network.port : '') : '–'],
  ['Resolver', (r) => r.network ? r.network.resolver : '–'],
  ['Second resolver', (r) => r.evidence && r.evidence.diagnosticDns ? r.evidence.diagnosticDns.resolver + ': ' + (r.evidence.diagnosticDns.addresses.join(', ') || r.evidence.diagnosticDns.error) : '–'],
  ['Edge', (r) => { const e = r.network && (r.network.edge.find((x) => x.pop) || r.network.edge[0]); return e ? e.provider + (e.pop ? ' ' + e.pop : '') : '–'; }],
  ['Certificate', (r) => r.network && r.network.tls && r.network.tls.fingerprint256 ? r.network.tls.subject + ' · ' + r.network.tls.issuer + ' · ' + r.network.tls.fingerprint256.slice(0, 17) + '…' : '–'],
  ['TLS', (r) => r.network && r.network.tls ? r.network.tls.protocol + ' ' + r.network.tls.cipher : '–'],
  ['HTTP', (r) => r.network && r.network.httpVersion ? r.network.httpVersion : '–'],
];

function renderWhy(data) {
  const blocks = data.open.filter((i) => i.evidence).map((i) => {
    const ev = i.evidence;
    const regions = [...i.failingRegions, ...i.passingRegions, ...i.noDataRegions].filter((r) => ev.perRegion[r]);
    const failing = new Set(i.failingRegions);
    const head = el('tr', {}, el('th', {}, ''), ...regions.map((r) => el('th', { class: failing.has(r) ? 'failing' : '' }, r + (failing.has(r) ? ' (failing)' : ''))));
    const rows = FACTS.map(([label, show]) => {
      const passingValues = new Set(regions.filter((r) => !failing.has(r)).map((r) => show(ev.perRegion[r])));
      return el('tr', {}, el('th', {}, label), ...regions.map((r) => {
        const value = show(ev.perRegion[r]);
        const differs = failing.has(r) && passingValues.size > 0 && !passingValues.has(value);
        return el('td', { class: (failing.has(r) ? 'failing' : '') + (differs ? ' differs' : '') }, value);
      }));
    });
    const traces = i.failingRegions.filter((r) => ev.perRegion[r] && ev.perRegion[r].evidence && ev.perRegion[r].evidence.trace).map((r) => {
      const trace = ev.perRegion[r].evidence.trace;
      if (trace.status !== 'done') return el('p', { 'data-trace': r }, 'Path trace from ' + r + ': ' + trace.status + ' (' + trace.reason + ')');
      const hops = trace.hops.map((h) => el('tr', {}, el('td', {}, h.ttl), el('td', {}, h.address || '* (no answer)'), el('td', {}, h.rttMs === null ? '' : h.rttMs + ' ms')));
      return el('div', { 'data-trace': r },
        el('h3', {}, 'Path trace from ' + r + ' to ' + trace.target + ':' + trace.port + ' (' + trace.tool + (ev.perRegion[r].evidence.reused ? ', reused' : '') + ')' + (trace.reachedTarget ? '' : ': the target did not answer')),
        el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'hop'), el('th', {}, 'address'), el('th', {}, 'rtt'))), el('tbody', {}, ...hops)));
    });
    return el('section', { class: 'why', 'data-incident': i.id },
      el('h2', {}, 'Why ' + i.failingRegions.join(', ') + ' ' + (i.failingRegions.length === 1 ? 'fails' : 'fail') + ': ' + i.checkId),
      ev.differences.length ? el('ol', {}, ...ev.differences.map((d) => el('li', { 'data-kind': d.kind }, d.text))) : el('p', { class: 'muted' }, 'No difference found between the failing and the passing regions.'),
      el('table', { class: 'comparison' }, el('thead', {}, head), el('tbody', {}, ...rows)),
      ...traces);
  });
  document.getElementById('why').replaceChildren(...blocks);
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
    renderWhy(incidents);
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
