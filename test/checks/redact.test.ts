import { describe, expect, it } from 'vitest';
import { createRedactor, formsOf } from '../../checks/redact.ts';
import { describeFailures, evaluateAssertions, lazyJson, type ResponseFacts } from '../../agent/runners/http/assertions.ts';
import { truncateMessage } from '../../agent/runners/http/errors.ts';
import type { Assertion } from '../../checks/contract.ts';

/** 45 characters, with a space and characters that every URL encoding treats differently. */
const SECRET = "s3cr3t value/with+plus&amp?q='x'~(y)*z!é-01234";
const redact = createRedactor({ TOKEN: SECRET });

/** Every run of 16 characters of the secret (the leak the issue measured) found in `text`. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 16 <= SECRET.length; i++) if (text.includes(SECRET.slice(i, i + 16))) found.push(SECRET.slice(i, i + 16));
  return found;
}

describe('createRedactor', () => {
  it.each([
    ['as it is', SECRET],
    ['JSON-escaped', JSON.stringify(SECRET).slice(1, -1)],
    ['encodeURIComponent', encodeURIComponent(SECRET)],
    ['a URL path', Object.assign(new URL('http://x/'), { pathname: `/${SECRET}` }).pathname],
    ['a URL query', Object.assign(new URL('http://x/'), { search: `?q=${SECRET}` }).search],
    ['URL userinfo', Object.assign(new URL('http://x/'), { password: SECRET }).href],
    ['a form', new URLSearchParams({ q: SECRET }).toString()],
    ['lower-case percent hex', encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())],
    ['base64 at offset 0', Buffer.from(SECRET).toString('base64')],
    ['base64 at offset 1', Buffer.from(`a${SECRET}`).toString('base64')],
    ['base64 at offset 2, URL-safe', Buffer.from(`ab${SECRET}`).toString('base64url')],
    ['hex', Buffer.from(SECRET).toString('hex')],
  ])('replaces the value %s', (_how, encoded) => {
    const out = redact(`before ${encoded} after`);
    expect(out).toContain('[secret:TOKEN]');
    expect(leaks(out)).toEqual([]);
  });

  it('replaces a piece of a value at a cut: the start of one before "…", the end of one after it', () => {
    expect(redact(`message: ${SECRET.slice(0, 22)}…`)).toBe('message: [secret:TOKEN]…');
    expect(redact(`…${SECRET.slice(30)} and on`)).toBe('…[secret:TOKEN] and on');
    expect(redact.excerpt(SECRET.slice(0, 5), { start: false, end: true })).toBe('[secret:TOKEN]');
    // Unmarked ends count from 6 characters on; 3 unrelated characters are left alone.
    expect(redact(`text ${SECRET.slice(0, 6)}`)).toBe('text [secret:TOKEN]');
    expect(redact('text s3c')).toBe('text s3c');
  });

  it('is idempotent, also for a value that looks like its own label', () => {
    const odd = createRedactor({ secret: 'secret' });
    expect(odd(odd('a secret b'))).toBe('a [secret:secret] b');
    expect(redact(redact(SECRET))).toBe('[secret:TOKEN]');
  });

  it('knows no form of an empty value and makes no base64 form of a short one', () => {
    expect(createRedactor({ EMPTY: '' })('text')).toBe('text');
    expect(formsOf('ab').every((form) => form.length <= 6)).toBe(true);
  });
});

describe('excerpts and messages around a secret the target echoes', () => {
  const assertions: Assertion[] = [
    { type: 'body', op: 'contains', value: 'never-there' },
    { type: 'body', op: 'notContains', value: 'marker' },
    { type: 'body', op: 'matches', value: 'marker' },
    { type: 'header', name: 'x-echo', op: 'equals', value: 'other' },
  ];

  it('never shows 16 characters of it, wherever the value crosses an excerpt boundary', () => {
    for (let offset = 0; offset < 320; offset++) {
      const body = `${'.'.repeat(offset)}${SECRET}${'-'.repeat(40)}marker${'.'.repeat(200)}`;
      const facts: ResponseFacts = {
        status: 200, headers: { 'x-echo': `${'h'.repeat(offset % 130)}${SECRET}` }, bodyText: body, json: lazyJson(() => body), totalMs: 1, redact,
      };
      const results = evaluateAssertions(assertions, facts);
      const message = truncateMessage(describeFailures(results), redact);
      const shown = `${JSON.stringify(results)}\n${message}`;
      expect(leaks(shown), `offset ${offset}`).toEqual([]);
    }
  });

  it('cuts a long message only after scrubbing it', () => {
    const message = `${'x'.repeat(1990)}${SECRET}`;
    expect(leaks(truncateMessage(message, redact))).toEqual([]);
    expect(truncateMessage(message).includes(SECRET.slice(0, 9))).toBe(true); // without a redactor, the piece shows
  });
});
