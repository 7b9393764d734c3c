// A local OTLP/HTTP receiver for the benchmark: accepts every export, counts requests and bytes.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
let requests = 0;
let bytes = 0;

createServer((req, res) => {
  if (req.method === 'GET') return void res.end(JSON.stringify({ requests, bytes }));
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
