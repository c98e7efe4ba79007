/**
 * The browser check type's entry in the runner table. Served only by agents with `--browser-checks on`;
 * its runner (runner.ts: one Chromium per agent, driven through Playwright) is imported when started,
 * and Playwright itself at the first run, so an agent that does not serve browser checks loads neither.
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
    return { run: browser.run, close: () => browser.close() };
  },
};
