/**
 * The raw floor: reading /proc/<pid>/net/udp and udp6 whole, in the benchmark's own process,
 * without parsing. Two ways, both reported:
 *
 * - `readFileSequential`: fs.promises.readFile of udp, then of udp6. This is what "reading
 *   the files" means, and every ratio the benchmark prints is against it.
 * - `serviceReadPath`: the service's own reader (src/procfs/procfs.ts ProcFs.stream, chunk by
 *   chunk, here without a parser), both files started together as src/collection/snapshot.ts
 *   starts them.
 */
import { readFile } from 'node:fs/promises';
import { deadlineIn } from '../../src/async.js';
import { ProcFs } from '../../src/procfs/procfs.js';

export interface TableFiles {
  readonly udp: string;
  readonly udp6: string;
}

/** Returns the bytes read, so a caller can check both ways read the same tables. */
export async function readFileSequential(files: TableFiles): Promise<number> {
  const udp = await readFile(files.udp);
  const udp6 = await readFile(files.udp6);
  return udp.length + udp6.length;
}

export function serviceReader(procRoot: string): (files: TableFiles) => Promise<number> {
  const procfs = new ProcFs(procRoot);
  const bytesOf = async (file: string): Promise<number> => {
    let bytes = 0;
    await procfs.stream(file, { deadline: deadlineIn(5000) }, (chunk) => {
      bytes += chunk.length;
    });
    return bytes;
  };
  return async (files) => {
    const [udp, udp6] = await Promise.all([bytesOf(files.udp), bytesOf(files.udp6)]);
    return udp + udp6;
  };
}
