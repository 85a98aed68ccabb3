/**
 * Stops this process when the npm that launched it goes away.
 *
 * `npx oncepay serve` runs npm → sh → node. A test harness stops it by signalling the PID it
 * started, npm's: npm passes the signal to its child, the shell, which dies of it without passing
 * it on, and the server would be left running, holding its port and data directory. So when npm
 * (or npx, yarn, pnpm: anything that sets npm_execpath) launched this process, a parent that
 * disappears (this process is re-parented: its parent pid changes) is taken as SIGTERM: the
 * usual graceful stop. `npm start` needs no watch (its script `exec`s node, which gets npm's
 * signal itself), but it covers npm being killed with SIGKILL too.
 */
export function stopWithLauncher(env: NodeJS.ProcessEnv = process.env, intervalMs = 200): void {
  if (!env.npm_execpath) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
}
