import { fork, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
const ROOT = '/work/wt/i21';
async function main() {
  const api = fork(path.join(ROOT, 'scripts/bench/api-child.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let id = 0;
  const pend = new Map<number, any>();
  api.on('message', (m: any) => {
    pend.get(m.id)(m.result);
  });
  const call = (op: string, ...args: any[]) =>
    new Promise<any>((ok) => {
      const i = id++;
      pend.set(i, ok);
      api.send({ id: i, op, args });
    });
  const apiUrl = await call('start');
  const data: Record<string, string> = {};
  for (let i = 0; i < 100; i++) data[`key-${String(i).padStart(3, '0')}`] = `value-${i}-${'x'.repeat(32)}`;
  await call('setConfigMap', 'bench', 'flags', data);
  const tokens = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-'));
  fs.writeFileSync(path.join(tokens, 'read-tokens'), 'tok\n');
  const servers = (process.env.AB || '').split(',');
  for (const [n, srv] of servers.entries()) {
    const port = 31200 + n;
    const kid = spawn(process.execPath, [srv], {
      env: { PATH: process.env.PATH!, PORT: String(port), KUBE_API_URL: apiUrl, KV_NAMESPACES: 'bench', KV_TOKENS_DIR: tokens },
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 2000));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let reused = 0;
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await new Promise<void>((ok) => {
        const req = http.get(`http://127.0.0.1:${port}/kv/bench/flags`, { agent, headers: { authorization: 'Bearer tok' } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (req.reusedSocket) reused++;
            ok();
          });
        });
      });
      lat.push(performance.now() - t);
    }
    lat.sort((a, b) => a - b);
    console.log(srv, 'reused', reused, 'p50', lat[150].toFixed(2), 'p90', lat[270].toFixed(2), 'max', lat[299].toFixed(2));
    agent.destroy();
    kid.kill();
  }
  api.kill();
  process.exit(0);
}
main();
