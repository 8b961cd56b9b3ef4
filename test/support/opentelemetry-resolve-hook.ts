/** The module resolve hook of record-opentelemetry.ts; it runs on Node's loader thread. */
interface Resolved {
  readonly url: string;
}
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<Resolved> {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.includes('/node_modules/@opentelemetry/')) process.stderr.write(`imported ${resolved.url}\n`);
  return resolved;
}
