/** Every benchmark section, in the order they run. */
import type { Section } from '../lib/section.ts';
import { browser } from './browser-section.ts';
import { detection } from './detection.ts';
import { detectionKinds } from './detection-kinds.ts';
import { httpThroughput } from './http-throughput.ts';
import { ingest } from './ingest.ts';
import { memory } from './memory.ts';
import { networkFacts } from './network-facts.ts';
import { scheduling } from './scheduling.ts';
import { timingAccuracy } from './timing-accuracy.ts';

export const SECTIONS: Section[] = [httpThroughput, timingAccuracy, networkFacts, scheduling, ingest, detection, detectionKinds, memory, browser];
