/**
 * A lossy TCP proxy (node:net) in front of one HTTP server. Per request (HTTP/1.1, keep-alive
 * or not: a request starts a client chunk with a method, an answer starts a server chunk with
 * `HTTP/1.`), with the configured probabilities it:
 *
 * - drops the answer: forwards the request, and when the server's answer starts coming back,
 *   resets the client connection instead of passing it on. The request ran; the client never
 *   learns its outcome (`dropped`);
 * - resets the client connection before forwarding the request: the server never sees it
 *   (`resets`);
 * - adds latency before forwarding the request (`delayed`).
 *
 * When the upstream is down (killed, restarting) the client connection is reset too
 * (`upstreamErrors`): the client sees a network error, never an HTTP status made up by the
 * proxy, so every status code a client receives through it came from the server itself.
 */
import net from 'node:net';
import type { Rng } from './prng.ts';

export interface ProxyProbabilities {
  drop: number;
  reset: number;
  latency: number;
  latencyMaxMs: number;
}

export interface ProxyCounts {
  connections: number;
  requests: number;
  forwarded: number;
  dropped: number;
  resets: number;
  delayed: number;
  upstreamErrors: number;
}

const REQUEST_START = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /;
const RESPONSE_START = 'HTTP/1.';

export class LossyProxy {
  readonly counts: ProxyCounts = { connections: 0, requests: 0, forwarded: 0, dropped: 0, resets: 0, delayed: 0, upstreamErrors: 0 };
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Faults can be switched off (quiescing) without closing the proxy. */
  enabled = true;

  constructor(
    readonly name: string,
    private readonly upstreamPort: number,
    private readonly probs: ProxyProbabilities,
    private readonly rng: Rng,
  ) {}

  listen(port = 0): Promise<number> {
    const server = net.createServer((client) => this.onConnection(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private onConnection(client: net.Socket): void {
    this.counts.connections++;
    this.track(client);
    let upstream: net.Socket | undefined;
    let dead = false;
    // For each forwarded request, in order: drop its answer?
    const dropAnswers: boolean[] = [];
    // Client -> server writes, in order (a delayed request holds back what follows it).
    let chain: Promise<void> = Promise.resolve();

    const kill = () => {
      if (dead) return;
      dead = true;
      if (!client.destroyed) client.resetAndDestroy();
      upstream?.destroy();
    };
    client.on('error', kill);
    client.on('close', () => { dead = true; upstream?.destroy(); });
    client.on('end', () => { chain = chain.then(() => { upstream?.end(); }); });

    const connectUpstream = (): net.Socket => {
      const up = net.connect({ host: '127.0.0.1', port: this.upstreamPort });
      this.track(up);
      up.setNoDelay(true);
      up.on('error', () => {
        if (!dead) this.counts.upstreamErrors++;
        kill();
      });
      up.on('close', () => {
        if (!dead) {
          dead = true;
          client.end();
        }
      });
      up.on('data', (chunk: Buffer) => {
        if (dead) return;
        if (chunk.subarray(0, RESPONSE_START.length).toString('latin1') === RESPONSE_START) {
          const drop = dropAnswers.shift() ?? false;
          if (drop) {
            this.counts.dropped++;
            kill();
            return;
          }
        }
        client.write(chunk);
      });
      return up;
    };

    client.on('data', (chunk: Buffer) => {
      if (dead) return;
      let delay = 0;
      if (REQUEST_START.test(chunk.subarray(0, 8).toString('latin1'))) {
        this.counts.requests++;
        if (this.enabled && this.rng.chance(this.probs.reset)) {
          this.counts.resets++;
          kill();
          return;
        }
        if (this.enabled && this.rng.chance(this.probs.latency)) {
          this.counts.delayed++;
          delay = this.rng.int(1, Math.max(1, this.probs.latencyMaxMs));
        }
        dropAnswers.push(this.enabled && this.rng.chance(this.probs.drop));
        this.counts.forwarded++;
      }
      chain = chain.then(async () => {
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (dead) return;
        upstream ??= connectUpstream();
        upstream.write(chunk);
      });
    });
  }
}
