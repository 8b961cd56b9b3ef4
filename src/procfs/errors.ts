/**
 * Errors raised while reading procfs. Each carries the file it concerns and, for a format
 * error, the line, field and raw token, so that a log line or a metric can say exactly what
 * went wrong instead of "invalid input".
 */

/** Shown in messages: a raw token is clipped and quoted so that control bytes stay visible. */
const MAX_TOKEN_CHARS = 40;

export function quoteToken(raw: string): string {
  const clipped = raw.length > MAX_TOKEN_CHARS ? `${raw.slice(0, MAX_TOKEN_CHARS)}...` : raw;
  return JSON.stringify(clipped);
}

/** A procfs file whose text does not have the shape the kernel writes. */
export class ProcFormatError extends Error {
  override readonly name = 'ProcFormatError';
  readonly file: string;
  /** 1-based line number, 0 when the problem concerns the file as a whole. */
  readonly line: number;
  readonly field: string;
  readonly token: string;

  constructor(file: string, line: number, field: string, token: string, problem: string) {
    const where = line > 0 ? `${file}:${line}` : file;
    super(`${where}: field ${field}: ${problem} (got ${quoteToken(token)})`);
    this.file = file;
    this.line = line;
    this.field = field;
    this.token = token;
  }
}

/**
 * Why a read failed, as a short stable token suitable for a metric attribute:
 * the errno name for system errors, or one of our own conditions.
 */
export type ReadFailure =
  | 'ENOENT'
  | 'EACCES'
  | 'EPERM'
  | 'EIO'
  | 'not_regular_file'
  | 'too_large'
  | 'timeout'
  | 'still_stuck'
  | 'malformed'
  | 'other';

/** A procfs file that could not be read (as opposed to read and found malformed). */
export class ProcReadError extends Error {
  override readonly name = 'ProcReadError';
  readonly file: string;
  readonly failure: ReadFailure;

  constructor(file: string, failure: ReadFailure, detail: string, options?: { cause?: unknown }) {
    super(`${file}: ${detail}`, options);
    this.file = file;
    this.failure = failure;
  }
}

const KNOWN_ERRNO = new Set<ReadFailure>(['ENOENT', 'EACCES', 'EPERM', 'EIO']);

/** Turns whatever a failed fs call threw into a ProcReadError naming the file. */
export function toProcReadError(file: string, error: unknown): ProcReadError {
  if (error instanceof ProcReadError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const failure: ReadFailure = code !== undefined && KNOWN_ERRNO.has(code as ReadFailure) ? (code as ReadFailure) : 'other';
  const message = error instanceof Error ? error.message : String(error);
  return new ProcReadError(file, failure, message, { cause: error });
}

/** The metric-attribute token for any failure a collection can meet. */
export function failureOf(error: unknown): ReadFailure {
  if (error instanceof ProcFormatError) return 'malformed';
  if (error instanceof ProcReadError) return error.failure;
  return 'other';
}
