// Storage thread: the worker's entry point (client.ts starts it).
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

import type { StoreSettings } from './protocol.js';
import { runStorageThread } from './run.js';

// On Linux a nice value belongs to a thread: this one gives way to the thread that streams traffic when
// the two want the same core, and takes what is idle — what it does can wait, a stalled stream cannot.
// At 100 connections on 2 busy cores: non-streaming p99 937 → 518 ms and 2.5 times the throughput in the
// same rounds, and still none dropped when sustained (bench/README.md).
try {
  setPriority(Math.min(19, getPriority() + 10));
} catch {
  // not allowed here: the server thread's priority
}
runStorageThread(parentPort!, workerData as StoreSettings);
