/**
 * A strict reader of the Prometheus text exposition format for assertions: every sample with
 * its labels, and the HELP/TYPE of each family. It throws on any line it cannot read, so a
 * malformed page fails the test that scraped it.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  readonly help: ReadonlyMap<string, string>;
  readonly types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const fail = (why: string): never => {
      throw new Error(`exposition line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (meta === null) continue;
      if (meta[1] === 'HELP') help.set(meta[2]!, meta[3]!);
      if (meta[1] === 'TYPE') types.set(meta[2]!, meta[3]!);
      continue;
    }
    const name = NAME.exec(line)?.[0] ?? fail('no metric name');
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const labelName = LABEL_NAME.exec(rest)?.[0] ?? fail('bad label name');
        rest = rest.slice(labelName.length);
        if (!rest.startsWith('="')) fail('expected ="');
        rest = rest.slice(2);
        let value = '';
        for (;;) {
          const c = rest[0] ?? fail('unterminated label value');
          rest = rest.slice(1);
          if (c === '"') break;
          if (c === '\n') fail('raw newline in label value');
          if (c === '\\') {
            const escaped = rest[0] ?? fail('dangling backslash');
            rest = rest.slice(1);
            if (escaped === 'n') value += '\n';
            else if (escaped === '\\' || escaped === '"') value += escaped;
            else fail(`unknown escape \\${escaped}`);
          } else value += c;
        }
        if (labelName in labels) fail(`duplicate label ${labelName}`);
        labels[labelName] = value;
        if (rest.startsWith(',')) rest = rest.slice(1);
      }
      rest = rest.slice(1);
    }
    const valueMatch = /^ (\S+)( -?\d+)?$/.exec(rest) ?? fail('bad value');
    const value = valueMatch[1] === '+Inf' ? Infinity : valueMatch[1] === '-Inf' ? -Infinity : Number(valueMatch[1]);
    if (Number.isNaN(value) && valueMatch[1] !== 'NaN') fail('value is not a number');
    samples.push({ name, labels, value });
  }
  return { samples, help, types };
}

/** The value of the one sample with exactly these labels, or undefined when there is none. */
export function valueOf(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const wanted = Object.entries(labels);
  const matches = exposition.samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
  );
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} with labels ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

/** All samples of a metric. */
export function samplesOf(exposition: Exposition, name: string): Sample[] {
  return exposition.samples.filter((s) => s.name === name);
}

export async function scrape(baseUrl: string): Promise<Exposition> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
