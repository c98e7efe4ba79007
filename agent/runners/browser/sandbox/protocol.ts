/**
 * What the agent and a sandbox process say to each other. The agent validates everything a sandbox sends
 * (it runs user code, which can write to the channel too): a message that does not parse is ignored, and
 * a result can only speak of the run the agent asked for.
 */
import { z } from 'zod';
import { BrowserRunDetails, ErrorCode } from '../../../../checks/contract.ts';
import type { BoundSecret } from '../../../secrets/origins.ts';
import { FAILING_REQUEST_LIMITS as LIMITS } from '../network.ts';


/** Agent → sandbox: connect to the browser now (a warm process, before its first run). */
export interface ConnectRequest {
  type: 'connect';
  relayUrl: string;
}

/** Agent → sandbox: run one journey. */
export interface RunRequest {
  type: 'run';
  runId: string;
  checkId: string;
  file: string;
  bundle: string;
  /** The listed secrets the agent has, and nothing else. */
  secrets: Record<string, string>;
  listedSecrets: string[];
  boundSecrets: BoundSecret[];
  /** The relay's URL for this run: one connection, closed at the run's deadline. */
  relayUrl: string;
  scriptDeadlineAt: number;
  runDeadlineAt: number;
  collect: boolean;
  closeTimeoutMs: number;
}

/** The failing request of a failed run (network.ts), held to the bounds the sandbox cuts it to. */
const FailingRequest = z.object({
  url: z.string().max(LIMITS.url),
  host: z.string().max(LIMITS.host),
  address: z.string().max(LIMITS.address).nullable(),
  port: z.number().int().min(0).max(65_535).nullable(),
  headers: z.array(z.tuple([z.string().max(LIMITS.headerName), z.string().max(LIMITS.headerValue)])).max(LIMITS.headers),
});

const Details = BrowserRunDetails.omit({ runId: true, artifacts: true, artifactNotes: true });
const RunId = z.string().max(100);
const Outcome = {
  outcome: z.enum(['pass', 'fail', 'error']),
  error: z.object({ code: ErrorCode, message: z.string().max(4000) }).nullable(),
  details: Details.nullable(),
  scriptMs: z.number().nonnegative(),
  /** What the sandbox spent before the script could start (loading the bundle, connecting): the agent's time, not the target's. */
  setupMs: z.number().nonnegative().max(3_600_000),
};

/** Sandbox → agent. */
export const SandboxMessage = z.discriminatedUnion('type', [
  /** playwright-core is loaded: the process can take a run. */
  z.object({ type: z.literal('ready') }),
  /** The check's code is about to run (its bundle's top level, then its script). */
  z.object({ type: z.literal('started'), runId: RunId }),
  /** The script ended or was stopped, with the outcome as it stands: teardown (screenshot, trace, closes) follows. */
  z.object({ type: z.literal('ended'), runId: RunId, ...Outcome }),
  z.object({
    type: z.literal('result'),
    runId: RunId,
    ...Outcome,
    artifacts: z.array(z.object({
      name: z.enum(['screenshot.png', 'trace.zip', 'network.har']),
      contentType: z.enum(['image/png', 'application/zip', 'application/json']),
      data: z.instanceof(Uint8Array),
    })).max(3),
    closeHung: z.boolean(),
    network: FailingRequest.optional(),
  }),
]);
export type SandboxMessage = z.infer<typeof SandboxMessage>;
