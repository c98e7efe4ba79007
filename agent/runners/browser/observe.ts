/**
 * What a run observes in its browser context besides the script: page loads with their navigation
 * timing and web vitals, console errors, failed requests, and page crashes. Every list is capped, and
 * what a page reports about itself is validated (a page's scripts can call our binding too).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { z } from 'zod';
import type { BrowserRunDetails } from '../../../checks/contract.ts';

type PageLoad = BrowserRunDetails['pageLoads'][number];
type FailedRequest = BrowserRunDetails['failedRequests'][number];

const MAX_PAGE_LOADS = 100;
const MAX_CONSOLE_ERRORS = 50;
const MAX_FAILED_REQUESTS = 50;
const BINDING = '__lookoutVitals';

/**
 * Runs in every document before its own scripts: observes paint, LCP and layout shifts, reads the
 * navigation entry at DOMContentLoaded and load, and reports each change through the binding.
 */
export const VITALS_INIT_SCRIPT = `(() => {
  if (window.top !== window || !/^https?:$/.test(location.protocol)) return;
  const v = { id: Math.random().toString(36).slice(2) + Date.now().toString(36), url: location.href,
    ttfbMs: null, domContentLoadedMs: null, loadMs: null, fcpMs: null, lcpMs: null, cls: 0 };
  let pending = false;
  const report = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; try { window.${BINDING}(Object.assign({}, v)); } catch (e) {} }, 0);
  };
  const observe = (type, onEntries) => {
    try { new PerformanceObserver((list) => { onEntries(list.getEntries()); report(); }).observe({ type, buffered: true }); } catch (e) {}
  };
  observe('paint', (entries) => { for (const e of entries) if (e.name === 'first-contentful-paint') v.fcpMs = e.startTime; });
  observe('largest-contentful-paint', (entries) => { const e = entries[entries.length - 1]; if (e) v.lcpMs = e.renderTime || e.loadTime || e.startTime; });
  observe('layout-shift', (entries) => { for (const e of entries) if (!e.hadRecentInput) v.cls += e.value; });
  const navigation = () => {
    const n = performance.getEntriesByType('navigation')[0];
    if (n) { v.ttfbMs = n.responseStart; v.domContentLoadedMs = n.domContentLoadedEventEnd || null; v.loadMs = n.loadEventEnd || null; }
    report();
  };
  addEventListener('DOMContentLoaded', navigation);
  addEventListener('load', () => setTimeout(navigation, 0));
})();`;

const Ms = z.number().finite().nonnegative().nullable();
const VitalsReport = z.object({
  id: z.string().max(64),
  url: z.string().max(100_000),
  ttfbMs: Ms, domContentLoadedMs: Ms, loadMs: Ms, fcpMs: Ms, lcpMs: Ms,
  cls: z.number().finite().nonnegative(),
});

const round = (value: number | null): number | null => (value === null ? null : Math.round(value * 10) / 10);
const cap = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export class RunObserver {
  readonly #loads = new Map<string, PageLoad>();
  readonly consoleErrors: string[] = [];
  readonly failedRequests: FailedRequest[] = [];
  #crashed: ((reason: string) => void) | undefined;
  /** Set once a page of the context crashed. */
  crashReason: string | undefined;
  /** Resolves with a reason when a page of the context crashes. */
  readonly crashed: Promise<string>;

  constructor() {
    this.crashed = new Promise((resolve) => { this.#crashed = resolve; });
  }

  /** Installs the init script, the binding and the listeners; call before the first page opens. */
  async attach(context: BrowserContext): Promise<void> {
    await context.exposeBinding(BINDING, (_source, payload: unknown) => this.#onVitals(payload));
    await context.addInitScript({ content: VITALS_INIT_SCRIPT });
    context.on('console', (message) => {
      if (message.type() === 'error') this.#pushConsole(message.text());
    });
    context.on('weberror', (webError) => this.#pushConsole(`uncaught: ${webError.error().message}`));
    context.on('requestfailed', (request) => {
      this.#pushFailed({ url: request.url(), method: request.method(), failure: request.failure()?.errorText ?? 'failed' });
    });
    context.on('response', (response) => {
      if (response.status() >= 400) {
        const request = response.request();
        this.#pushFailed({ url: request.url(), method: request.method(), failure: `HTTP ${response.status()}` });
      }
    });
    context.on('page', (page: Page) => {
      page.on('crash', () => {
        this.crashReason ??= `page crashed: ${cap(page.url(), 200)}`;
        this.#crashed?.(this.crashReason);
      });
    });
  }

  get pageLoads(): PageLoad[] {
    return [...this.#loads.values()];
  }

  #onVitals(payload: unknown): void {
    const parsed = VitalsReport.safeParse(payload);
    if (!parsed.success) return;
    const v = parsed.data;
    if (!this.#loads.has(v.id) && this.#loads.size >= MAX_PAGE_LOADS) return;
    this.#loads.set(v.id, {
      url: cap(v.url, 2000),
      ttfbMs: round(v.ttfbMs), domContentLoadedMs: round(v.domContentLoadedMs), loadMs: round(v.loadMs),
      fcpMs: round(v.fcpMs), lcpMs: round(v.lcpMs), cls: Math.round(v.cls * 10_000) / 10_000,
    });
  }

  #pushConsole(text: string): void {
    if (this.consoleErrors.length < MAX_CONSOLE_ERRORS) this.consoleErrors.push(cap(text, 1000));
  }

  #pushFailed(entry: FailedRequest): void {
    if (this.failedRequests.length < MAX_FAILED_REQUESTS) {
      this.failedRequests.push({ url: cap(entry.url, 2000), method: cap(entry.method, 20), failure: cap(entry.failure, 500) });
    }
  }
}
