/**
 * Environment names that look like the service's own but are not. Each is a typo that would
 * otherwise be ignored without a word: `UDP_LISTNER_PORTS=514` left the service in discovery
 * mode, the port never watched and its down alert unable to fire.
 *
 * An unknown name with the service's exact prefix, UDP_LISTENER_, is refused (exit 2): that
 * namespace is the service's own, so the name is certainly meant for it and certainly wrong, and
 * a refusal at deploy time beats a host that looks monitored and is not. A name outside it that
 * merely resembles one of the service's (the prefix in another case, or within two edits of a
 * known name) may belong to other software sharing the environment: it is warned about, once,
 * and otherwise ignored.
 */
import { ConfigError } from './errors.js';
import { VARIABLE_NAMES } from './variables.js';

/** A name in the environment that resembles one the service reads. */
export interface VariableWarning {
  readonly variable: string;
  /** The known name it is nearest to. */
  readonly resembles: string;
}

const OWN_PREFIX = 'UDP_LISTENER_';
/** Edits (insert, delete, replace, swap two neighbours) that still make a near miss. */
const MAX_EDITS = 2;

/**
 * Refuses an unknown name of the service's own namespace (throws ConfigError) and returns one
 * warning per other name that resembles a known one, in the environment's order.
 */
export function checkVariableNames(env: NodeJS.ProcessEnv): VariableWarning[] {
  const known = new Set(VARIABLE_NAMES);
  const warnings: VariableWarning[] = [];
  for (const name of Object.keys(env)) {
    if (known.has(name)) continue;
    const upper = name.toUpperCase();
    const near = nearestKnownName(upper, MAX_EDITS + 1);
    const isNearMiss = near.edits <= MAX_EDITS;
    if (name.startsWith(OWN_PREFIX)) {
      const hint = isNearMiss ? ` (did you mean ${near.name}?)` : '';
      const own = VARIABLE_NAMES.filter((n) => n.startsWith(OWN_PREFIX));
      throw new ConfigError(name, env[name] ?? '', `unknown variable${hint}; the known ones are ${own.join(', ')}`);
    }
    if (isNearMiss) warnings.push({ variable: name, resembles: near.name });
    else if (upper.startsWith(OWN_PREFIX)) warnings.push({ variable: name, resembles: nearestKnownName(upper, Number.POSITIVE_INFINITY).name });
  }
  return warnings;
}

/** The known name fewest edits away (the first of the table on a tie), counting up to `cap`. */
function nearestKnownName(upper: string, cap: number): { name: string; edits: number } {
  let best = { name: VARIABLE_NAMES[0]!, edits: cap };
  for (const name of VARIABLE_NAMES) {
    const edits = editDistance(upper, name, best.edits);
    if (edits < best.edits) best = { name, edits };
  }
  return best;
}

/**
 * Edits between two names (optimal string alignment: a swap of neighbours counts as one), or
 * `cap` as soon as it is clear they are at least that far apart.
 */
export function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMinimum = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, beforePrevious[j - 2]! + 1);
      current.push(value);
      rowMinimum = Math.min(rowMinimum, value);
    }
    if (rowMinimum >= cap) return cap;
    beforePrevious = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, cap);
}
