// Seeded randomness for the traffic generator: one small PRNG (sfc32 seeded through splitmix32) and
// the distributions the traffic model needs. Math.random is never used, so a seed fixes the stream.

/** A deterministic source of randomness. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Exponential with the given mean. */
  exponential(mean: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Log-normal with the given median and shape sigma. */
  logNormal(median: number, sigma: number): number;
  /** A new independent stream derived from this one and a label, so adding a draw in one place
   * does not shift every draw after it elsewhere. */
  fork(label: string): Random;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a string, for turning labels into seeds. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** sfc32 seeded from a 32-bit seed. Fast, small state, passes PractRand to 2^40+ bytes. */
export function createRandom(seed: number): Random {
  const mix = splitmix32(seed);
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const nextUint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextUint32();
  let spareNormal: number | null = null;
  const random: Random = {
    next: () => nextUint32() / 4294967296,
    int: (n) => Math.floor((nextUint32() / 4294967296) * n),
    chance: (p) => p > 0 && nextUint32() / 4294967296 < p,
    exponential: (mean) => -mean * Math.log(1 - nextUint32() / 4294967296),
    normal: () => {
      if (spareNormal !== null) {
        const value = spareNormal;
        spareNormal = null;
        return value;
      }
      const u = 1 - nextUint32() / 4294967296;
      const v = nextUint32() / 4294967296;
      const radius = Math.sqrt(-2 * Math.log(u));
      spareNormal = radius * Math.sin(2 * Math.PI * v);
      return radius * Math.cos(2 * Math.PI * v);
    },
    logNormal: (median, sigma) => median * Math.exp(sigma * random.normal()),
    fork: (label) => createRandom((hashString(label) ^ nextUint32()) >>> 0),
  };
  return random;
}

/**
 * Samples ranks 0..n-1 with probability proportional to 1/(rank+1)^exponent, by binary search over
 * a precomputed CDF: real traffic is dominated by a few hot endpoints and a long tail.
 */
export class ZipfSampler {
  readonly #cdf: Float64Array;

  constructor(n: number, exponent: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Zipf size must be a positive integer, got ${n}`);
    this.#cdf = new Float64Array(n);
    let total = 0;
    for (let rank = 0; rank < n; rank++) {
      total += 1 / (rank + 1) ** exponent;
      this.#cdf[rank] = total;
    }
    for (let rank = 0; rank < n; rank++) this.#cdf[rank] = this.#cdf[rank]! / total;
  }

  sample(random: Random): number {
    const u = random.next();
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
