/**
 * Secrets by reference on the agent: parsing the secrets file and environment, resolving placeholders
 * in what the real HTTP runner sends to a real loopback target, SECRET_MISSING, and scrubbing values
 * from reports, thrown errors and artifacts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanArtifacts, zipEntries } from '../../../agent/secrets/artifacts.ts';
import { runnerTable, startRunners } from '../../../agent/runners/index.ts';
import { loadSecrets, parseSecretsFile, secretsFromEnv } from '../../../agent/secrets/load.ts';
import { withSecrets } from '../../../agent/secrets/apply.ts';
import type { RunnerTable } from '../../../agent/runners/types.ts';
import { createScrubber, secret } from '../../../checks/secrets.ts';
import { startHttpTarget, type TestTarget } from '../../support/http-targets.ts';
import { assertValidReport, httpCheck, runContext } from '../../support/http-check.ts';

const API_KEY = 'sk_live_4f9a/+ü&x=1';
const PASSWORD = 'hunter2-correct-horse';

describe('parseSecretsFile', () => {
  it.each([
    ['a JSON object', '{ "API_KEY": "a", "OTHER": "b" }', { API_KEY: 'a', OTHER: 'b' }, []],
    ['dotenv lines with comments, export, quotes and escapes', '# comment\nexport API_KEY=abc # trailing\nQUOTED="a b\\nc"\nSINGLE=\'x#y\'\n\nEMPTY=\n',
      { API_KEY: 'abc', QUOTED: 'a b\nc', SINGLE: 'x#y', EMPTY: '' }, []],
    ['bad names and lines, with their line numbers', 'OK=1\n1BAD=2\nno equals sign\nOPEN="unterminated\n', { OK: '1' },
      ['s.env:2: "1BAD" is not a valid secret name (letters, digits and "_", not starting with a digit)', 's.env:3: expected NAME=value', 's.env:4: unterminated quote in the value of OPEN']],
    ['a JSON value that is not a string', '{ "N": 1 }', {}, ['s.env: the value of N must be a string or { "value": "…", "origins": [...] }']],
    ['invalid JSON', '{ "N": ', {}, [expect.stringMatching(/^s\.env: not valid JSON/)]],
  ])('%s', (_name, text, secrets, problems) => {
    expect(parseSecretsFile(text, 's.env')).toEqual({ secrets, origins: {}, problems });
  });

  it('binds a secret to origins, and names every bad entry', () => {
    const text = JSON.stringify({
      STRIPE_KEY: { value: 'sk', origins: ['https://api.stripe.com', 'http://127.0.0.1:8080'] },
      PLAIN: 'p',
      PATHY: { value: 'x', origins: ['https://api.example.com/v1'] },
      EMPTY: { value: 'x', origins: [] },
      NO_VALUE: { origins: ['https://a.example'] },
      TYPO: { value: 'x', origin: ['https://a.example'] },
    });
    const parsed = parseSecretsFile(text, 's.json');
    expect(parsed.secrets).toEqual({ STRIPE_KEY: 'sk', PLAIN: 'p', PATHY: 'x', EMPTY: 'x', TYPO: 'x' });
    expect(parsed.origins).toEqual({ STRIPE_KEY: ['https://api.stripe.com', 'http://127.0.0.1:8080'] });
    expect(parsed.problems).toEqual([
      's.json: PATHY.origins has "https://api.example.com/v1", which is not an origin (scheme://host[:port], http or https, no path)',
      's.json: EMPTY.origins must be a non-empty array of origins such as "https://api.example.com"',
      's.json: NO_VALUE.value must be a string',
      's.json: TYPO has unknown field "origin" (expected "value" and optional "origins")',
    ]);
  });

  it('never puts a value in a problem message', () => {
    const { problems } = parseSecretsFile(`"bad name"=${PASSWORD}\nOPEN='${PASSWORD}\n`, 'f');
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toContain(PASSWORD);
  });
});

describe('loadSecrets', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'lookout-secrets-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the file, then the environment (which wins), and ignores other variables', () => {
    const file = join(dir, 'secrets.env');
    writeFileSync(file, `API_KEY=from-file\nPASSWORD=${PASSWORD}\n`);
    const secrets = loadSecrets({ file, env: { LOOKOUT_SECRET_API_KEY: 'from-env', PATH: '/bin', LOOKOUT_REGION: 'x' } });
    expect(secrets).toEqual({ values: { API_KEY: 'from-env', PASSWORD }, origins: {} });
    expect(secretsFromEnv({ 'LOOKOUT_SECRET_bad-name': 'x' }).problems).toEqual(['LOOKOUT_SECRET_bad-name: "bad-name" is not a valid secret name']);
  });

  it('reports an unreadable file and bad variables together', () => {
    expect(() => loadSecrets({ file: join(dir, 'absent.env'), env: { 'LOOKOUT_SECRET_A-B': 'x' } }))
      .toThrow(expect.objectContaining({ code: 'SECRETS_INVALID', problems: [expect.stringMatching(/absent\.env: cannot read the secrets file \(ENOENT\)/), expect.stringMatching(/LOOKOUT_SECRET_A-B/)] }));
  });
});

describe('createScrubber', () => {
  it('replaces raw, URL-encoded and JSON-escaped values, the longest first', () => {
    const scrub = createScrubber({ API_KEY, SHORT: 'sk_live', EMPTY: '' });
    expect(scrub(`key=${API_KEY}; url=/x?k=${encodeURIComponent(API_KEY)}; json=${JSON.stringify({ k: 'a"b' })}`)).toBe('key=[secret:API_KEY]; url=/x?k=[secret:API_KEY]; json={"k":"a\\"b"}');
    expect(scrub('prefix sk_live suffix')).toBe('prefix [secret:SHORT] suffix');
    expect(createScrubber({ Q: 'a"b' })(JSON.stringify({ k: 'a"b' }))).toBe('{"k":"[secret:Q]"}');
  });
});

describe('runners with secrets', () => {
  let target: TestTarget;
  const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
  let runners: RunnerTable;
  beforeAll(async () => {
    target = await startHttpTarget((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c; });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        // Echoes the credential back, as a misbehaving target might: the report must not carry it.
        res.writeHead(200, { 'content-type': 'text/plain', 'x-echo': String(req.headers.authorization ?? '') });
        res.end(`you sent ${body}`);
      });
    });
    // As an agent starts them: the table's HTTP runner, wrapped with the secrets by startRunners.
    runners = (await startRunners(['http'], { secrets: { API_KEY, PASSWORD } })).runners;
  });
  afterAll(async () => { await target?.close(); });

  it('resolves placeholders in url, header values and body just before the request', async () => {
    seen.length = 0;
    const check = httpCheck({
      url: target.url(`/v1/${secret('PASSWORD')}?key=${secret('API_KEY')}`), method: 'POST',
      headers: { authorization: `Bearer ${secret('API_KEY')}` }, body: JSON.stringify({ password: secret('PASSWORD') }),
    });
    const report = await runners.http(check, runContext(5_000));
    expect(report.outcome).toBe('pass');
    expect(seen).toHaveLength(1);
    expect(decodeURIComponent(seen[0]!.url)).toBe(`/v1/${PASSWORD}?key=${API_KEY}`);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(seen[0]!.body)).toEqual({ password: PASSWORD });
    // The definition itself was not changed: it still holds placeholders only.
    expect(check.headers.authorization).toBe('Bearer {{secret:API_KEY}}');
  });

  it('scrubs every value from what the run reports, here a failed assertion quoting the echoed header', async () => {
    const check = httpCheck({
      url: target.url('/echo'), headers: { authorization: `Bearer ${secret('API_KEY')}` },
      assertions: [{ type: 'header', name: 'x-echo', op: 'equals', value: 'something else' }],
    });
    const report = await runners.http(check, runContext(5_000));
    assertValidReport(report);
    expect(report.outcome).toBe('fail');
    const text = JSON.stringify(report);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(encodeURIComponent(API_KEY));
    expect(report.error!.message).toContain('x-echo: "Bearer [secret:API_KEY]"');
    expect(report.assertions[0]!.actual).toBe('x-echo: "Bearer [secret:API_KEY]"');
    // The network facts (the failed run's response headers, with the echo) and the evidence are scrubbed too.
    expect(Object.fromEntries(report.network!.responseHeaders!)['x-echo']).toBe('Bearer [secret:API_KEY]');
    expect(report.evidence).toBeDefined();
  });

  it('scrubs a secret in the URL from the network facts', async () => {
    const report = await runners.http(httpCheck({ url: target.url(`/v1?key=${secret('API_KEY')}`) }), runContext(5_000));
    expect(report.network!.url).toBe(target.url('/v1?key=[secret:API_KEY]'));
    expect(JSON.stringify(report)).not.toContain(API_KEY);
  });

  it('fails with SECRET_MISSING, naming every missing secret, without contacting the target', async () => {
    seen.length = 0;
    const report = await runners.http(httpCheck({ url: target.url(`/?a=${secret('NOPE')}`), headers: { 'x-b': secret('ALSO_NOPE') }, body: secret('API_KEY') }), runContext(5_000));
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'fail', statusCode: null, error: { code: 'SECRET_MISSING' } });
    expect(report.error!.message).toBe('secrets "NOPE", "ALSO_NOPE" are not set on this agent (set LOOKOUT_SECRET_NOPE, LOOKOUT_SECRET_ALSO_NOPE or add them to the agent\'s --secrets-file)');
    expect(seen).toEqual([]);
  });

  it('scrubs the message of a runner that throws', async () => {
    const throwing = withSecrets(runnerTable({ http: async () => { throw Object.assign(new Error(`bug with ${API_KEY}`), { code: 'X' }); } }), { API_KEY });
    await expect(throwing.http(httpCheck({ url: target.url('/') }), runContext(1_000))).rejects.toMatchObject({ message: 'bug with [secret:API_KEY]', code: 'X' });
  });
});

/** A minimal ZIP (one deflated entry), as Playwright's trace archive is built. */
function zipOf(name: string, content: string): Buffer {
  const data = deflateRawSync(Buffer.from(content));
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(content.length, 22); local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(content.length, 24); central.writeUInt16LE(nameBytes.length, 28); central.writeUInt32LE(0, 42);
  const centralOffset = local.length + nameBytes.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12); end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, data, central, nameBytes, end]);
}

describe('artifacts and secrets', () => {
  it('scrubs text artifacts and leaves out binary ones that hold a value, even compressed in a ZIP', () => {
    expect(zipEntries(zipOf('trace.trace', 'hello')).map(String)).toEqual(['hello']);
    const artifacts = [
      { name: 'network.har', contentType: 'application/json', data: Buffer.from(JSON.stringify({ headers: [{ name: 'x-shop-key', value: `Bearer ${API_KEY}` }] })) },
      { name: 'trace.zip', contentType: 'application/zip', data: zipOf('trace.trace', `{"type":"fill","value":"${PASSWORD}"}`) },
      { name: 'clean.zip', contentType: 'application/zip', data: zipOf('trace.trace', '{"type":"click"}') },
      { name: 'screenshot.png', contentType: 'image/png', data: Buffer.concat([Buffer.from([0x89, 0x50]), Buffer.from(PASSWORD)]) },
    ];
    const { keep, notes } = cleanArtifacts(artifacts, { API_KEY, PASSWORD });
    expect(keep.map((a) => a.name)).toEqual(['network.har', 'clean.zip']);
    expect(keep[0]!.data.toString()).toContain('Bearer [secret:API_KEY]');
    expect(Buffer.concat(keep.map((a) => a.data)).includes(API_KEY)).toBe(false);
    expect(notes).toEqual(['trace.zip not stored: it contains a secret value', 'screenshot.png not stored: it contains a secret value']);
    expect(cleanArtifacts(artifacts, {}).keep).toHaveLength(4);
  });

  it('finds a value in a binary artifact in its encoded forms too: JSON-escaped, base64, URL-encoded', () => {
    const quoted = 'pa"ss\\word with space';
    const cases = [
      JSON.stringify({ type: 'fill', value: quoted }),
      `prefix:${Buffer.from(`x${quoted}y`).toString('base64')}`,
      `url=${encodeURIComponent(quoted)}`,
      `form=${new URLSearchParams({ p: quoted }).toString()}`,
    ];
    for (const content of cases) {
      const { keep, notes } = cleanArtifacts([{ name: 'trace.zip', contentType: 'application/zip', data: zipOf('trace.trace', content) }], { QUOTED: quoted });
      expect(keep, content).toEqual([]);
      expect(notes).toEqual(['trace.zip not stored: it contains a secret value']);
    }
  });
});

describe('artifacts and credentials', () => {
  const har = {
    log: { entries: [{
      request: { headers: [{ name: 'Cookie', value: 'session=abc123' }, { name: 'Authorization', value: 'Bearer tok' }, { name: 'accept', value: '*/*' }], cookies: [{ name: 'session', value: 'abc123' }] },
      response: { headers: [{ name: 'set-cookie', value: 'session=abc123; HttpOnly' }, { name: 'x-api-key', value: 'k' }], cookies: [{ name: 'session', value: 'abc123' }] },
    }] },
  };

  it('removes cookies and bearer tokens from the HAR, with or without secrets configured', () => {
    for (const secrets of [{}, { API_KEY }] as Array<Record<string, string>>) {
      const { keep } = cleanArtifacts([{ name: 'network.har', contentType: 'application/json', data: Buffer.from(JSON.stringify(har, null, 2)) }], secrets);
      const text = keep[0]!.data.toString();
      expect(text).not.toMatch(/abc123|Bearer tok|"k"/);
      expect(JSON.parse(text).log.entries[0].request.headers).toEqual([{ name: 'accept', value: '*/*' }]);
    }
  });

  it('rewrites a trace archive without them, keeping its other entries', () => {
    const network = [JSON.stringify({ type: 'resource-snapshot', snapshot: har.log.entries[0] }), JSON.stringify({ type: 'other' })].join('\n');
    const { keep } = cleanArtifacts([{ name: 'trace.zip', contentType: 'application/zip', data: zipOf('trace.network', network) }], {});
    const entries = zipEntries(keep[0]!.data).map(String);
    expect(entries).toHaveLength(1);
    expect(entries[0]).not.toMatch(/abc123|Bearer tok/);
    expect(entries[0]).toContain('"accept"');
    expect(entries[0]).toContain('{"type":"other"}');
  });

  it('leaves out a trace that cannot be read to clean it', () => {
    const broken = zipOf('trace.network', 'x'.repeat(100)).subarray(0, 60);
    const { keep } = cleanArtifacts([{ name: 'trace.zip', contentType: 'application/zip', data: Buffer.concat([broken, zipOf('a', 'b').subarray(-22)]) }], {});
    expect(keep).toEqual([]);
  });
});

describe('secrets by need and bound to origins (HTTP)', () => {
  let allowed: TestTarget;
  let elsewhere: TestTarget;
  const hits: string[] = [];
  const keyMark = (req: { headers: Record<string, unknown> }) => (req.headers['x-api-key'] === undefined ? ' key=absent' : ' key=present');
  let runners: RunnerTable;
  beforeAll(async () => {
    elsewhere = await startHttpTarget((req, res) => { hits.push(`elsewhere ${req.url}${keyMark(req)}`); res.writeHead(200).end('ok'); });
    allowed = await startHttpTarget((req, res) => {
      hits.push(`allowed ${req.url}${keyMark(req)}`);
      // A redirect that keeps the request's headers and body (307) to another origin.
      if (req.url === '/away') res.writeHead(307, { location: elsewhere.url('/landing') }).end();
      else res.writeHead(200).end('ok');
    });
    runners = (await startRunners(['http'], {
      secrets: { API_KEY, PASSWORD },
      secretOrigins: { API_KEY: [new URL(allowed.url('/')).origin] },
    })).runners;
  });
  afterAll(async () => { await Promise.all([allowed?.close(), elsewhere?.close()]); });

  it('sends a bound secret to its origin; a redirect hop to another origin goes on without it', async () => {
    hits.length = 0;
    const report = await runners.http(httpCheck({ url: allowed.url('/away'), headers: { 'x-api-key': secret('API_KEY') } }), runContext(5_000));
    assertValidReport(report);
    // The header that carries the secret is meant for the check's own origin: a cross-origin hop drops it
    // (so the origin binding has nothing to refuse), and the other origin never sees the key.
    expect(report.outcome, JSON.stringify(report.error)).toBe('pass');
    expect(hits).toEqual(['allowed /away key=present', 'elsewhere /landing key=absent']);
  });

  it('refuses the first request when the check itself points the secret at another origin', async () => {
    hits.length = 0;
    const report = await runners.http(httpCheck({ url: elsewhere.url(`/?k=${secret('API_KEY')}`) }), runContext(5_000));
    expect(report.error?.code).toBe('SECRET_ORIGIN_DENIED');
    expect(hits).toEqual([]);
    // A secret without origins goes anywhere; a redirect hop that no longer carries the bound one is followed.
    const free = await runners.http(httpCheck({ url: allowed.url('/away'), body: secret('PASSWORD'), method: 'POST' }), runContext(5_000));
    expect(free.outcome, JSON.stringify(free.error)).toBe('pass');
  });

  it('resolves only the secrets the definition lists; SECRET_MISSING names just the one it lacks', async () => {
    hits.length = 0;
    const handMade = httpCheck({ url: allowed.url(`/?p=${secret('PASSWORD')}`), headers: { 'x-api-key': secret('API_KEY') }, secrets: ['API_KEY'] });
    const report = await runners.http(handMade, runContext(5_000));
    expect(report.error).toEqual({ code: 'SECRET_MISSING', message: expect.stringMatching(/^secret "PASSWORD" is not among the secrets this check's definition lists/) });
    expect(report.error!.message).not.toContain('API_KEY');
    expect(hits).toEqual([]);
  });
});
