/**
 * The browser check type's entry in the runner table. Served only by agents with `--browser-checks on`;
 * its runner (runner.ts: one Chromium per agent, driven through Playwright) is imported when started, and
 * warmed up then (the browser launched, a sandbox process ready), so an agent that does not serve browser
 * checks loads neither, and the first job of one that does does not wait for them.
 */
import type { CheckTypeRunner } from '../types.ts';

export const browserChecks: CheckTypeRunner<'browser'> = {
  servedBy: (config) => config.browserChecks,
  async start(settings) {
    const { createBrowserRunner } = await import('./runner.ts');
    const log = settings.log;
    const browser = createBrowserRunner({
      ...settings.browser,
      secrets: { ...settings.secrets },
      secretOrigins: { ...settings.secretOrigins },
      artifactSink: settings.artifactSink,
      ...(log ? { log: (event: string, fields: Record<string, unknown>) => log(`browser.${event}`, fields) } : {}),
    });
    // The browser and a sandbox are started now, not by the first job, which would wait for them.
    void browser.warmUp().catch((error: unknown) => log?.('browser.warm_up_failed', { error: String((error as Error)?.message ?? error) }));
    return { run: browser.run, close: () => browser.close() };
  },
};
