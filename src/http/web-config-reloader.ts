/**
 * The web configuration file, reloaded while the service runs: on SIGHUP, and when the file or
 * a certificate, key or CA file it names has changed (checked at most once a second, when a
 * client connects or sends a request: a stat of each file, nothing read). exporter-toolkit
 * re-reads the file at every handshake and request, so node_exporter takes a rotated certificate
 * without a restart; this does the same at a fraction of the cost.
 *
 * A new configuration goes through the same loader and checks as at start-up. One that fails
 * them is refused with one error line naming the file and the key, and the previous one keeps
 * serving, as Prometheus does with its own configuration; so are the two changes a running
 * server cannot take (TLS switched on or off, another client_auth_type), which need a restart.
 * The outcome shows as udp_listener_exporter_config_last_reload_successful and
 * ..._last_reload_success_timestamp_seconds.
 */
import { stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { ConfigError } from '../config/errors.js';
import { loadWebConfig, type ReloadState, type WebConfig } from '../config/web-config.js';
import type { Logger } from '../log.js';
import { BasicAuth } from './basic-auth.js';
import { applyTlsReload } from './tls.js';

/** What the server applies to each connection and request. */
export interface ActiveWebConfig {
  readonly config: WebConfig;
  /** Undefined: no basic auth users. */
  readonly auth: BasicAuth | undefined;
}

export type ReloadTrigger = 'SIGHUP' | 'changed file';

/** The file's changes are looked for at most this often. */
const CHECK_INTERVAL_MS = 1000;

export class WebConfigReloader {
  private readonly variable: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private active: ActiveWebConfig;
  private reloadState: ReloadState;
  private server: Server | undefined;
  /** The files to stat, and what they looked like when last loaded (or refused). */
  private watched: { readonly files: readonly string[]; readonly fingerprint: string };
  private lastCheck = Number.NEGATIVE_INFINITY;
  /** Reloads and checks, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(variable: string, initial: WebConfig, fingerprint: string, logger: Logger, now: () => number) {
    this.variable = variable;
    this.logger = logger;
    this.now = now;
    this.active = activate(initial, undefined);
    this.reloadState = { lastReloadSuccessful: true, lastSuccessSeconds: Math.floor(now() / 1000) };
    this.watched = { files: initial.files, fingerprint };
  }

  /** `initial` is the configuration loaded at start-up, from `variable`. */
  static async start(variable: string, initial: WebConfig, logger: Logger, now: () => number = Date.now): Promise<WebConfigReloader> {
    return new WebConfigReloader(variable, initial, await fingerprintOf(initial.files), logger, now);
  }

  get current(): ActiveWebConfig {
    return this.active;
  }

  get state(): ReloadState {
    return this.reloadState;
  }

  /** Looks for changes when clients connect or send requests, and swaps its certificates. */
  attach(server: Server): void {
    this.server = server;
    const check = (): void => this.checkForChanges();
    server.on('connection', check);
    server.on('request', check);
  }

  /** Reads the file again now. Resolves whether the new configuration is the one serving. */
  reload(trigger: ReloadTrigger): Promise<boolean> {
    const turn = this.queue.then(() => this.load(trigger));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** At most once a second: reloads when a watched file's identity, size or times changed. */
  private checkForChanges(): void {
    const now = this.now();
    if (now - this.lastCheck < CHECK_INTERVAL_MS) return;
    this.lastCheck = now;
    this.queue = this.queue
      .then(async () => {
        if ((await fingerprintOf(this.watched.files)) !== this.watched.fingerprint) await this.load('changed file');
      })
      .catch((error: unknown) => this.logger.error('checking the web configuration for changes failed', { error: String(error) }));
  }

  private async load(trigger: ReloadTrigger): Promise<boolean> {
    const file = this.active.config.file;
    // Taken before reading, so that a change made while reading is seen by the next check.
    const fingerprint = await fingerprintOf(this.watched.files);
    let next: WebConfig;
    try {
      next = loadWebConfig(this.variable, file);
      refuseRestartOnlyChanges(this.variable, this.active.config, next);
      if (next.tls !== undefined && this.server !== undefined) applyTlsReload(this.server as HttpsServer, next.tls);
    } catch (error) {
      // ConfigError names the variable, the file and the key; anything else is reported as is.
      this.reloadState = { ...this.reloadState, lastReloadSuccessful: false };
      this.watched = { files: this.watched.files, fingerprint };
      this.logger.error('web configuration not reloaded; the previous one keeps serving', { file, trigger, error: error instanceof Error ? error.message : String(error) });
      return false;
    }
    this.active = activate(next, this.active);
    this.reloadState = { lastReloadSuccessful: true, lastSuccessSeconds: Math.floor(this.now() / 1000) };
    // The new configuration may name other files: their state now is what the next check compares.
    const sameFiles = next.files.length === this.watched.files.length && next.files.every((f, i) => f === this.watched.files[i]);
    this.watched = { files: next.files, fingerprint: sameFiles ? fingerprint : await fingerprintOf(next.files) };
    this.logger.info('web configuration reloaded', {
      file,
      trigger,
      tls: next.tls === undefined ? 'off' : 'on',
      basic_auth_users: next.basicAuthUsers.size,
    });
    return true;
  }
}

/** A BasicAuth is built (a bcrypt hash at start, for the decoy) only when the users change. */
function activate(config: WebConfig, previous: ActiveWebConfig | undefined): ActiveWebConfig {
  if (previous !== undefined && sameUsers(previous.config.basicAuthUsers, config.basicAuthUsers)) return { config, auth: previous.auth };
  return { config, auth: config.basicAuthUsers.size === 0 ? undefined : new BasicAuth(config.basicAuthUsers) };
}

function sameUsers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([user, hash]) => b.get(user) === hash);
}

/**
 * The listener is HTTP or HTTPS from start to finish, and whether it asks for client
 * certificates is fixed when it is created (Node's setSecureContext takes certificates, keys,
 * CAs and protocol settings, not that).
 */
function refuseRestartOnlyChanges(variable: string, serving: WebConfig, next: WebConfig): void {
  const problem = (key: string, what: string): ConfigError => new ConfigError(variable, next.file, `${key}: ${what} takes a restart; the running server keeps its setting`);
  if ((serving.tls === undefined) !== (next.tls === undefined)) {
    throw problem('tls_server_config', `switching TLS ${next.tls === undefined ? 'off' : 'on'}`);
  }
  if (serving.tls !== undefined && next.tls !== undefined && serving.tls.clientAuth !== next.tls.clientAuth) {
    throw problem('tls_server_config.client_auth_type', `changing ${serving.tls.clientAuth} to ${next.tls.clientAuth}`);
  }
}

/** Device, inode, size and change times of each file (a missing one by its error code). */
async function fingerprintOf(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (file) => {
      try {
        const { dev, ino, size, mtimeMs, ctimeMs } = await stat(file);
        return `${dev}:${ino}:${size}:${mtimeMs}:${ctimeMs}`;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? 'error';
      }
    }),
  );
  return parts.join('|');
}
