/** Every benchmark section, in the order they run. */
import type { Section } from '../lib/section.ts';
import { badInput } from './bad-input.ts';
import { browser } from './browser-section.ts';
import { detection } from './detection.ts';
import { detectionKinds } from './detection-kinds.ts';
import { farAgent } from './far-agent.ts';
import { httpThroughput } from './http-throughput.ts';
import { ingest } from './ingest.ts';
import { memory } from './memory.ts';
import { networkFacts } from './network-facts.ts';
import { scheduling } from './scheduling.ts';
import { signing } from './signing.ts';
import { timingAccuracy } from './timing-accuracy.ts';

export const SECTIONS: Section[] = [httpThroughput, timingAccuracy, networkFacts, scheduling, ingest, signing, detection, detectionKinds, farAgent, memory, browser, badInput];
