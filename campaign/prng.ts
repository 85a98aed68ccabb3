/**
 * A small seeded PRNG (sfc32) so that a campaign's random choices can be repeated with --seed.
 * Each component takes its own stream (`fork(label)`), so adding a draw in one place does not
 * shift every other choice. Timing still differs from run to run (scheduling, I/O), so a
 * repeated seed repeats the choices, not the interleavings.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number, label = '') {
    const h = hash32(`${seed >>> 0}:${label}`);
    this.a = h ^ 0x9e3779b9;
    this.b = hash32(`${label}#b${seed}`);
    this.c = hash32(`${label}#c${seed}`);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  /** One of the entries, with probability proportional to its weight (entries of weight 0 never). */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    const total = entries.reduce((s, [, w]) => s + Math.max(0, w), 0);
    if (!(total > 0)) throw new Error('weighted pick with no positive weight');
    let x = this.next() * total;
    for (const [v, w] of entries) {
      if (w <= 0) continue;
      x -= w;
      if (x < 0) return v;
    }
    return entries.filter(([, w]) => w > 0).at(-1)![0];
  }

  /** An independent stream for one component, derived from the same seed. */
  fork(label: string): Rng {
    return new Rng(this.seed, label);
  }
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
