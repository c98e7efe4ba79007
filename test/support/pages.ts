/**
 * A tiny shop served on 127.0.0.1 (port 0) for browser-check tests: a few pages with titles, links, a
 * form, a late-appearing element, a console error and a missing image, plus a page that never answers.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface TestSite {
  url: string;
  /** Requests seen per path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

const layout = (title: string, body: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const PAGES: Record<string, string> = {
  '/': layout('Acme Shop', `<h1>Acme Shop</h1><p>Welcome!</p><a id="products" href="/products">Products</a>
    <img src="/missing.png" alt=""><script>console.error('analytics failed to load')</script>`),
  '/products': layout('Products · Acme Shop', `<h1>Products</h1><ul><li class="p">Anvil</li><li class="p">Rocket</li><li class="p">Magnet</li></ul>
    <form action="/cart" method="get"><input name="item" value="anvil"><button id="add">Add to cart</button></form>
    <div id="late"></div><script>setTimeout(() => { document.getElementById('late').textContent = 'Deals loaded'; }, 300)</script>`),
  '/cart': layout('Cart · Acme Shop', `<h1>Your cart</h1><p id="count">1 item</p>`),
  '/tiny': layout('Tiny', `<h1>ok</h1>`),
};

export async function startTestSite(): Promise<TestSite> {
  const hits = new Map<string, number>();
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/never') {
      // Headers, then nothing: the page load never completes.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<!doctype html><title>Never</title><h1>Loading');
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    const page = PAGES[path];
    if (!page) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
