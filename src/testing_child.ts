/**
 * The child process of `startOncepay({ process: 'child' })` (src/testing.ts): starts the server
 * with the settings its parent sends, answers requests for new accounts, and stops on SIGTERM,
 * SIGINT or when its parent goes away (the IPC channel closes).
 */
import { startServer, type ChildMessage, type ParentMessage, type ServerHandle } from './testing.ts';

let server: ServerHandle | undefined;
let stopping = false;
const tell = (m: ChildMessage) => process.send?.(m);

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    try { await server?.stop(); } catch { code = 1; }
  }
  process.exit(code);
}

process.on('message', async (m: ParentMessage) => {
  if (m.type === 'start') {
    try {
      server = await startServer(m.settings);
      tell({ type: 'ready', port: server.port });
    } catch (err) {
      tell({ type: 'failed', message: (err as Error).message });
      await stop(1);
    }
  } else if (m.type === 'account') {
    try {
      if (!server) throw new Error('the server has not started');
      tell({ type: 'account', id: m.id, ...(await server.newAccount()) });
    } catch (err) {
      tell({ type: 'account', id: m.id, error: (err as Error).message });
    }
  }
});
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('disconnect', () => void stop(0));
