/**
 * Micro-benchmark of the socket-table parser: the service's byte scanner against the split
 * and regex baselines (test/bench/baseline-parsers.ts), on the tables captured during the run, in
 * the three ways a collection uses it: every line decoded, configured mode (only watched
 * ports decoded) and discovery mode (only listeners outside the ephemeral range decoded).
 */
import { deepStrictEqual } from 'node:assert/strict';
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseNetUdp, type ParseNetUdpOptions, type UdpSocket } from '../../src/procfs/net-udp.js';
import { parseByRegex, parseBySplit } from './baseline-parsers.js';
import { Samples, type Summary } from './stats.js';

type Include = (port: number, state: number) => boolean;
type Parser = (bytes: Uint8Array, options: ParseNetUdpOptions) => UdpSocket[];

export const PARSERS: Readonly<Record<string, Parser>> = { scanner: parseNetUdp, split: parseBySplit, regex: parseByRegex };

export interface CapturedTables {
  readonly udp: Buffer;
  readonly udp6: Buffer;
}

/** Median and p90 in milliseconds to parse both tables, by parser, then by mode. */
export type ParserFigures = Record<string, Record<string, Summary>>;

export function benchParsers(tables: CapturedTables, modes: Readonly<Record<string, Include | undefined>>, reps: number): ParserFigures {
  const byteOrder = endianness();
  const parseBoth = (parser: Parser, include: Include | undefined): UdpSocket[] => {
    const extra = include === undefined ? {} : { include };
    return [
      ...parser(tables.udp, { file: 'udp', family: 'ipv4', byteOrder, ...extra }),
      ...parser(tables.udp6, { file: 'udp6', family: 'ipv6', byteOrder, ...extra }),
    ];
  };
  // The baselines must do the same job, or the comparison means nothing.
  for (const include of Object.values(modes)) {
    const expected = parseBoth(parseNetUdp, include);
    for (const [name, parser] of Object.entries(PARSERS)) {
      deepStrictEqual(parseBoth(parser, include), expected, `the ${name} parser disagrees with the scanner`);
    }
  }
  const samples = new Samples();
  for (let rep = 0; rep < reps; rep++) {
    for (const [mode, include] of Object.entries(modes)) {
      for (const [name, parser] of Object.entries(PARSERS)) {
        const started = performance.now();
        parseBoth(parser, include);
        samples.add(`${name} ${mode}`, performance.now() - started);
      }
    }
  }
  const figures: ParserFigures = {};
  for (const name of Object.keys(PARSERS)) {
    figures[name] = Object.fromEntries(Object.keys(modes).map((mode) => [mode, samples.summary(`${name} ${mode}`)]));
  }
  return figures;
}
