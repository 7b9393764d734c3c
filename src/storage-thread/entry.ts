// Storage thread: the worker's entry point (client.ts starts it).
import { parentPort, workerData } from 'node:worker_threads';

import type { StoreSettings } from './protocol.js';
import { runStorageThread } from './run.js';

runStorageThread(parentPort!, workerData as StoreSettings);
