/**
 * Every workload of `npm run bench`, in report order.
 * @module
 */
import type { Workload } from '../core/types.ts';
import { limits } from './limits.ts';
import { w1 } from './w1-commit.ts';
import { w2 } from './w2-group.ts';
import { w3 } from './w3-batch.ts';
import { w4 } from './w4-stream.ts';
import { w5 } from './w5-memory.ts';
import { w6 } from './w6-scan.ts';
import { w7 } from './w7-open.ts';
import { w8 } from './w8-rss.ts';
import { wa } from './wa-amplification.ts';

export const WORKLOADS: readonly Workload[] = [limits, w1, w2, w3, w4, w5, w6, w7, w8, wa];
