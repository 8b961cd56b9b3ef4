/** Summaries of repeated timings: the median is the figure, p90 says how noisy it was. */

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile (p in 0..1) of a non-empty sample. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    // The median of an even sample is the mean of the middle two.
    median: sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2,
    p90: percentile(sorted, 0.9),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/** Collects named samples in the order they are first recorded. */
export class Samples {
  private readonly byName = new Map<string, number[]>();

  add(name: string, value: number): void {
    let list = this.byName.get(name);
    if (list === undefined) {
      list = [];
      this.byName.set(name, list);
    }
    list.push(value);
  }


  summary(name: string): Summary {
    const list = this.byName.get(name);
    if (list === undefined) throw new Error(`no samples named ${name}`);
    return summarize(list);
  }
}
