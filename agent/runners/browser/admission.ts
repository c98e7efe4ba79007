/**
 * Whether a browser run may start now: pure, so that every case is table-tested. The browser host asks
 * it before each run, with what it just read from /proc.
 */

export interface AdmissionLimits {
  /** Recycle the browser after this many runs. */
  maxRunsPerBrowser: number;
  /** Recycle the browser when its process tree's RSS exceeds this. */
  maxBrowserRssBytes: number;
  /** Do not start a run while the system has less memory available than this. */
  minAvailableMemoryBytes: number;
}

export interface AdmissionState {
  /** Whether a browser is up (a run on no browser first launches one). */
  browserUp: boolean;
  runsOnBrowser: number;
  /** Runs in progress on the current browser. */
  activeRuns: number;
  treeRssBytes: number;
  memAvailableBytes: number;
}

export type Admission =
  | { action: 'start' }
  /** The browser must be replaced first; wait for its runs to end (`activeRuns` 0), then recycle. */
  | { action: 'recycle'; reason: string }
  /** Not enough memory now; retry later (until the run's deadline). */
  | { action: 'wait'; reason: string };

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${Math.round(bytes / MiB)} MiB`;

export function decideAdmission(state: AdmissionState, limits: AdmissionLimits): Admission {
  if (state.browserUp && state.runsOnBrowser >= limits.maxRunsPerBrowser) {
    return { action: 'recycle', reason: `browser served ${state.runsOnBrowser} runs (limit ${limits.maxRunsPerBrowser})` };
  }
  if (state.browserUp && state.treeRssBytes > limits.maxBrowserRssBytes) {
    return { action: 'recycle', reason: `browser tree RSS ${mib(state.treeRssBytes)} is over ${mib(limits.maxBrowserRssBytes)}` };
  }
  if (state.memAvailableBytes < limits.minAvailableMemoryBytes) {
    return { action: 'wait', reason: `system memory available ${mib(state.memAvailableBytes)} is under ${mib(limits.minAvailableMemoryBytes)}` };
  }
  return { action: 'start' };
}
