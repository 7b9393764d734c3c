import { slowStreams } from './bench/load.ts';
import { rssMb, startHelper, startLlmtap } from './bench/procs.ts';
const N = Number(process.argv[2] ?? 1000);
const which = process.argv[3] ?? 'llmtap';
const upstream = await startHelper('upstream', './bench/upstream.ts', []);
const proxy = which === 'llmtap'
  ? await startLlmtap('./dist/cli.js', { LLMTAP_UPSTREAM_URL: upstream.url, LLMTAP_DB_PATH: '/tmp/slow/db.sqlite', ...(process.env.EXTRA ? JSON.parse(process.env.EXTRA) : {}) })
  : await startHelper('reference', './bench/reference-proxy.ts', [upstream.url]);
console.log('idle rss', rssMb(proxy.pid).toFixed(0));
const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
const r = await slowStreams(`${proxy.url}/v1/chat/completions`, N, body, { 'content-type': 'application/json', 'x-bench-tokens': '100', 'x-bench-delay-ms': '50' }, () => rssMb(proxy.pid));
console.log(which, N, r);
await proxy.stop(); await upstream.stop();
