// Runs CongoDB (see congodb.sh) on 127.0.0.1 with a free port; prints "PORT n" then "READY";
// stops when stdin closes. argv[2]: the directory holding node_modules.
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2];
const mod = await import(pathToFileURL(path.join(dir, 'node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js')).href);

// a free port: bind 0, read it, release it
const port = await new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const server = new mod.CongoServer({ port, host: '127.0.0.1' });
await server.start();
process.stdout.write(`PORT ${port}\nREADY\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  process.exit(0);
});
