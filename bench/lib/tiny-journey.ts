/**
 * The browser benchmarks' journey (bench/browser.ts, bench/browser-ab.ts): a tiny page on 127.0.0.1 and a
 * check file that opens it and checks its heading, so what is measured is the browser machinery, not a site.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { listen } from './http.ts';

export interface TinySite {
  url: string;
  close(): void;
}

export async function startTinySite(): Promise<TinySite> {
  const page = '<!doctype html><html><head><title>Tiny</title></head><body><h1>ok</h1></body></html>';
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end(page));
  const url = `${await listen(server)}/`;
  return { url, close: () => { server.close(); } };
}

/** Writes `tiny.check.ts`, the journey against `url`, into `dir`. */
export function writeTinyJourney(dir: string, url: string): void {
  writeFileSync(join(dir, 'tiny.check.ts'), `import { defineBrowserCheck } from 'lookout/checks';
export default defineBrowserCheck({ id: 'tiny', name: 'tiny', regions: ['local'], timeout: '15s', frequency: '1m',
  script: async ({ page, step, expect }) => {
    await step('open', () => page.goto(${JSON.stringify(url)}));
    await step('check', () => expect(page.locator('h1')).toHaveText('ok'));
  } });`);
}
