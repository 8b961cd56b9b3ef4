/**
 * The UDP_LISTENER_PORTS syntax: a comma list of `[name=]port` or `[name=]low-high`,
 * e.g. `syslog=514,filebeat=6984,9000-9010`.
 */
import { ConfigError } from './errors.js';

export interface WatchedPort {
  readonly port: number;
  /** Given with `name=` in the configuration; every port of a named range shares it. */
  readonly name?: string;
}

/**
 * Names end up as label values: a conservative alphabet keeps them readable in PromQL and
 * free of anything that needs escaping.
 */
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const PORT_PATTERN = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** Parses the list; an empty or blank list means discovery mode and gives no ports. */
export function parsePortList(text: string, variable: string): WatchedPort[] {
  if (text.trim() === '') return [];
  const ports: WatchedPort[] = [];
  const tokenOfPort = new Map<number, string>();
  const tokenOfName = new Map<string, string>();
  for (const rawToken of text.split(',')) {
    const token = rawToken.trim();
    if (token === '') {
      throw new ConfigError(variable, text, 'empty entry: remove the extra comma');
    }
    const equals = token.indexOf('=');
    const name = equals >= 0 ? token.slice(0, equals) : undefined;
    const spec = equals >= 0 ? token.slice(equals + 1) : token;
    if (name !== undefined) {
      if (!NAME_PATTERN.test(name)) {
        throw new ConfigError(variable, token, 'a name must be 1 to 64 characters of A-Z a-z 0-9 _ . -');
      }
      const earlier = tokenOfName.get(name);
      if (earlier !== undefined) {
        throw new ConfigError(variable, token, `name ${JSON.stringify(name)} is already used by ${JSON.stringify(earlier)}`);
      }
      tokenOfName.set(name, token);
    }
    const { low, high } = parsePortSpec(spec, token, variable);
    for (let port = low; port <= high; port++) {
      const earlier = tokenOfPort.get(port);
      if (earlier !== undefined) {
        throw new ConfigError(variable, token, `port ${port} is already given by ${JSON.stringify(earlier)}`);
      }
      tokenOfPort.set(port, token);
      ports.push(name === undefined ? { port } : { port, name });
    }
  }
  return ports.sort((a, b) => a.port - b.port);
}

function parsePortSpec(spec: string, token: string, variable: string): { low: number; high: number } {
  const match = PORT_PATTERN.exec(spec);
  if (match === null) {
    throw new ConfigError(variable, token, 'expected a port (1-65535) or a range low-high, optionally after name=');
  }
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  for (const port of [low, high]) {
    if (port < 1 || port > 65535) {
      throw new ConfigError(variable, token, `port ${port} is outside 1-65535`);
    }
  }
  if (low > high) {
    throw new ConfigError(variable, token, `range ${low}-${high} runs backwards`);
  }
  return { low, high };
}
