/**
 * The web configuration file of Prometheus's exporter-toolkit (docs/web-configuration.md in
 * prometheus/exporter-toolkit), so that an operator who protects node_exporter protects this
 * exporter with the same file: TLS (`tls_server_config`), basic auth (`basic_auth_users`,
 * bcrypt hashes) and extra response headers (`http_server_config.headers`).
 *
 * Read and checked at start-up like every other setting: unknown keys, unreadable or mismatched
 * certificates and malformed hashes stop the service with the key named. The loader is also what
 * a reload uses (http/web-config-reloader.ts): on SIGHUP or a changed file the same checks decide
 * whether the new configuration replaces the one serving.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { createRequire } from 'node:module';
import { ConfigError } from './errors.js';
import { errorCode } from './values.js';

/** The toolkit's client_auth_type values, named after Go's tls.ClientAuthType. */
export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface TlsServerConfig {
  /** PEM bytes, from cert_file or inline cert. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** PEM bytes of the CAs client certificates are verified against; undefined: the system roots. */
  readonly clientCa: Buffer | undefined;
  readonly clientAuth: ClientAuthType;
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** OpenSSL cipher list for TLS 1.2 and older; undefined: Node's defaults. */
  readonly ciphers: string | undefined;
  readonly honorCipherOrder: boolean;
  /** OpenSSL curve list, e.g. "X25519:P-256"; undefined: Node's defaults. */
  readonly ecdhCurve: string | undefined;
  /** A client certificate must carry one of these SANs (DNS, IP, e-mail or URI), exactly. */
  readonly clientAllowedSans: readonly string[] | undefined;
}

export interface WebConfig {
  readonly file: string;
  /** The files it was read from: the file itself, then the certificate, key and CA files it names. */
  readonly files: readonly string[];
  /** Undefined: plain HTTP. */
  readonly tls: TlsServerConfig | undefined;
  /** Username -> bcrypt hash; empty: no authentication. */
  readonly basicAuthUsers: ReadonlyMap<string, string>;
  /** Set on every response, authenticated or not. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The variable that names the file, for messages. */
export const WEB_CONFIG_VARIABLE = 'UDP_LISTENER_WEB_CONFIG_FILE';

/** Which headers may be set, and the values allowed where the toolkit restricts them. */
const ALLOWED_HEADERS: Readonly<Record<string, readonly string[] | undefined>> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

const CLIENT_AUTH_TYPES: Readonly<Record<string, ClientAuthType>> = {
  '': 'NoClientCert',
  NoClientCert: 'NoClientCert',
  RequestClientCert: 'RequestClientCert',
  RequireAnyClientCert: 'RequireAnyClientCert',
  // The toolkit keeps this older name for backwards compatibility.
  RequireClientCert: 'RequireAnyClientCert',
  VerifyClientCertIfGiven: 'VerifyClientCertIfGiven',
  RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};

const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};
const VERSION_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Go's names (tls.CipherSuites()) to OpenSSL's. Go applies cipher_suites to TLS 1.2 and older
 * only and ignores its TLS 1.3 names; so does this exporter.
 */
const CIPHER_SUITES: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
/** Kept whatever cipher_suites says, as in Go. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/** Go's bcrypt accepts the 2a, 2b and 2y variants with a cost of 4 to 31. */
const BCRYPT_HASH = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;

const TLS_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_auth_type',
  'client_ca_file',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'cipher_suites',
  'prefer_server_cipher_suites',
  'curve_preferences',
] as const;

type Yaml = string | Yaml[] | Map<string, Yaml>;
type Section = ReadonlyMap<string, Yaml>;

/** A problem at a key of the file; turned into a ConfigError naming the variable and the file. */
class WebConfigProblem extends Error {
  constructor(key: string, problem: string) {
    super(key === '' ? problem : `${key}: ${problem}`);
  }
}

export function loadWebConfig(variable: string, file: string): WebConfig {
  try {
    return readWebConfig(file);
  } catch (error) {
    if (error instanceof WebConfigProblem) throw new ConfigError(variable, file, error.message);
    throw error;
  }
}

function readWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new WebConfigProblem('', `cannot be read: ${errorCode(error)}`);
  }
  const top = section(parseYaml(text), '');
  rejectUnknownKeys(top, '', ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);
  if (!isNull(top.get('rate_limit'))) {
    throw new WebConfigProblem('rate_limit', 'not supported by this exporter; remove it (a scrape every few seconds needs no limit)');
  }
  const directory = path.dirname(path.resolve(file));
  const files = [path.resolve(file)];
  return {
    file,
    files,
    tls: tlsConfig(section(top.get('tls_server_config'), 'tls_server_config'), directory, files),
    basicAuthUsers: basicAuthUsers(section(top.get('basic_auth_users'), 'basic_auth_users')),
    headers: httpHeaders(section(top.get('http_server_config'), 'http_server_config')),
  };
}

/**
 * Every scalar is read as a string (YAML's failsafe schema), as Go's strict unmarshalling into
 * string fields does: a username `1234` stays "1234", a hash is never mangled into a number.
 * Parse errors give a line and column but never quote the text, which may hold secrets.
 */
function parseYaml(text: string): Yaml | undefined {
  // Required here rather than imported: only a service given a web configuration file pays for
  // the YAML parser's memory.
  const { LineCounter, parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { schema: 'failsafe', prettyErrors: false, uniqueKeys: true, lineCounter });
  const [error] = document.errors;
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new WebConfigProblem('', `not valid YAML at line ${line}, column ${col}: ${error.code}`);
  }
  // Maps rather than objects: keys keep their order and a key such as __proto__ stays a key.
  const value: unknown = document.toJS({ maxAliasCount: 100, mapAsMap: true });
  return value === null ? undefined : checkYamlTypes(value, '');
}

function checkYamlTypes(value: unknown, key: string): Yaml {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((item, index) => checkYamlTypes(item, `${key}[${index}]`));
  if (value instanceof Map) {
    const result = new Map<string, Yaml>();
    for (const [name, item] of value) {
      if (typeof name !== 'string') throw new WebConfigProblem(key, 'expected plain keys');
      result.set(name, checkYamlTypes(item, join(key, name)));
    }
    return result;
  }
  throw new WebConfigProblem(key, 'expected a string, a list or a mapping');
}

/** Go's YAML decoder reads an empty value, `~` and `null` as the zero value. */
function isNull(value: Yaml | undefined): boolean {
  return value === undefined || (typeof value === 'string' && ['', '~', 'null', 'Null', 'NULL'].includes(value));
}

function section(value: Yaml | undefined, key: string): Section {
  if (isNull(value)) return new Map();
  if (!(value instanceof Map)) throw new WebConfigProblem(key, 'expected a mapping of keys to values');
  return value;
}

function rejectUnknownKeys(values: Section, key: string, known: readonly string[]): void {
  for (const name of values.keys()) {
    if (!known.includes(name)) {
      throw new WebConfigProblem(join(key, name), `unknown key; the known ones are ${known.join(', ')}`);
    }
  }
}

function join(key: string, name: string): string {
  return key === '' ? name : `${key}.${name}`;
}

function optionalString(values: Section, key: string, name: string): string | undefined {
  const value = values.get(name);
  if (isNull(value)) return undefined;
  if (typeof value !== 'string') throw new WebConfigProblem(join(key, name), 'expected a string');
  return value;
}

function stringList(values: Section, key: string, name: string): string[] | undefined {
  const value = values.get(name);
  if (isNull(value)) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new WebConfigProblem(join(key, name), 'expected a list of strings');
  }
  return value as string[];
}

function oneOf<T>(table: Readonly<Record<string, T>>, values: Section, key: string, name: string): T | undefined {
  const text = optionalString(values, key, name);
  if (text === undefined) return undefined;
  if (!Object.hasOwn(table, text)) {
    throw new WebConfigProblem(join(key, name), `${JSON.stringify(text)} is not one of ${Object.keys(table).filter((k) => k !== '').join(', ')}`);
  }
  return table[text];
}

/** `files` gets every file the TLS settings are read from. */
function tlsConfig(values: Section, directory: string, files: string[]): TlsServerConfig | undefined {
  const key = 'tls_server_config';
  rejectUnknownKeys(values, key, TLS_KEYS);
  // As the toolkit's TLSConfig.IsEnabled: any of these set means TLS is wanted.
  const enabled = ['cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_ca_file', 'client_auth_type'].some(
    (name) => optionalString(values, key, name) !== undefined,
  );
  if (!enabled) {
    const stray = TLS_KEYS.find((name) => !isNull(values.get(name)));
    if (stray !== undefined) throw new WebConfigProblem(join(key, stray), 'set without cert_file and key_file, so TLS is off');
    return undefined;
  }
  const cert = pemSource(values, directory, 'cert', 'cert_file', files);
  const keyPem = pemSource(values, directory, 'key', 'key_file', files);
  if (cert === undefined) throw new WebConfigProblem(join(key, 'cert_file'), 'missing: give one of cert or cert_file');
  if (keyPem === undefined) throw new WebConfigProblem(join(key, 'key_file'), 'missing: give one of key or key_file');
  const clientCa = pemSource(values, directory, 'client_ca', 'client_ca_file', files);
  const clientAuth = oneOf(CLIENT_AUTH_TYPES, values, key, 'client_auth_type') ?? 'NoClientCert';
  if (clientCa !== undefined && clientAuth === 'NoClientCert') {
    throw new WebConfigProblem(join(key, 'client_auth_type'), 'client_ca_file is set without a client_auth_type that asks for client certificates');
  }
  const clientAllowedSans = stringList(values, key, 'client_allowed_sans');
  if (clientAllowedSans !== undefined && clientAuth === 'NoClientCert') {
    throw new WebConfigProblem(join(key, 'client_allowed_sans'), 'is set without a client_auth_type that asks for client certificates');
  }
  const minVersion = oneOf(TLS_VERSIONS, values, key, 'min_version') ?? 'TLSv1.2';
  const maxVersion = oneOf(TLS_VERSIONS, values, key, 'max_version') ?? 'TLSv1.3';
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    throw new WebConfigProblem(join(key, 'min_version'), 'is above max_version');
  }
  const tls: TlsServerConfig = {
    cert: cert.pem,
    key: keyPem.pem,
    clientCa: clientCa?.pem,
    clientAuth,
    minVersion,
    maxVersion,
    ciphers: cipherList(values, key),
    honorCipherOrder: bool(values, key, 'prefer_server_cipher_suites') ?? true,
    ecdhCurve: stringList(values, key, 'curve_preferences')?.map((name) => {
      const curve = CURVES[name];
      if (curve === undefined) throw new WebConfigProblem(join(key, 'curve_preferences'), `unknown curve ${JSON.stringify(name)}; known: ${Object.keys(CURVES).join(', ')}`);
      return curve;
    }).join(':'),
    clientAllowedSans,
  };
  checkWithOpenSsl(tls, cert.key, keyPem.key, clientCa?.key);
  return tls;
}

interface Pem {
  readonly pem: Buffer;
  /** The key the PEM came from, for messages. */
  readonly key: string;
}

/**
 * Inline PEM (`cert`) or a file (`cert_file`, relative to the web configuration file's folder),
 * which is added to `files`.
 */
function pemSource(values: Section, directory: string, inline: string, fileKey: string, files: string[]): Pem | undefined {
  const key = 'tls_server_config';
  const text = optionalString(values, key, inline);
  const file = optionalString(values, key, fileKey);
  if (text !== undefined && file !== undefined) {
    throw new WebConfigProblem(join(key, fileKey), `give ${inline} or ${fileKey}, not both`);
  }
  if (text !== undefined) return { pem: Buffer.from(text), key: join(key, inline) };
  if (file === undefined) return undefined;
  const resolved = path.resolve(directory, file);
  files.push(resolved);
  try {
    return { pem: readFileSync(resolved), key: join(key, fileKey) };
  } catch (error) {
    throw new WebConfigProblem(join(key, fileKey), `cannot read ${JSON.stringify(resolved)}: ${errorCode(error)}`);
  }
}

function cipherList(values: Section, key: string): string | undefined {
  const names = stringList(values, key, 'cipher_suites');
  if (names === undefined || names.length === 0) return undefined;
  const suites: string[] = [];
  for (const name of names) {
    const suite = CIPHER_SUITES[name];
    if (suite === undefined) {
      throw new WebConfigProblem(join(key, 'cipher_suites'), `unknown or insecure cipher suite ${JSON.stringify(name)}; known: ${Object.keys(CIPHER_SUITES).join(', ')}`);
    }
    if (suite !== null) suites.push(suite);
  }
  return [...suites, TLS13_SUITES].join(':');
}

function bool(values: Section, key: string, name: string): boolean | undefined {
  const text = optionalString(values, key, name);
  if (text === undefined) return undefined;
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  throw new WebConfigProblem(join(key, name), `expected true or false, got ${JSON.stringify(text)}`);
}

/**
 * Lets OpenSSL judge the PEM now, so that a wrong file fails start-up rather than every
 * handshake. Its message names what is wrong but never the key material.
 */
function checkWithOpenSsl(tls: TlsServerConfig, certKey: string, keyKey: string, caKey: string | undefined): void {
  const attempt = (key: string, options: Parameters<typeof createSecureContext>[0]): void => {
    try {
      createSecureContext(options);
    } catch (error) {
      throw new WebConfigProblem(key, `rejected by OpenSSL: ${openSslReason(error)}`);
    }
  };
  attempt(certKey, { cert: tls.cert });
  attempt(keyKey, { key: tls.key });
  attempt(keyKey, { cert: tls.cert, key: tls.key });
  if (tls.clientCa !== undefined && caKey !== undefined) attempt(caKey, { ca: tls.clientCa });
  attempt('tls_server_config', {
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
    ...(tls.ecdhCurve === undefined ? {} : { ecdhCurve: tls.ecdhCurve }),
  });
}

function openSslReason(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return code ?? message ?? String(error);
}

function basicAuthUsers(values: Section): Map<string, string> {
  const users = new Map<string, string>();
  for (const [user, hash] of values) {
    // The hash is a secret of sorts: messages name the user, never the hash.
    const key = join('basic_auth_users', user);
    if (typeof hash !== 'string') throw new WebConfigProblem(key, 'expected a bcrypt hash string');
    const match = BCRYPT_HASH.exec(hash);
    const cost = match === null ? 0 : Number(match[1]);
    if (match === null || cost < 4 || cost > 31) {
      throw new WebConfigProblem(key, 'not a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31, 53 characters of salt and hash); make one with htpasswd -nBC 10 ""');
    }
    users.set(user, hash);
  }
  return users;
}

function httpHeaders(values: Section): Record<string, string> {
  const key = 'http_server_config';
  rejectUnknownKeys(values, key, ['headers', 'http2']);
  // HTTP/2 is a Go server option; this server speaks HTTP/1.1, which Prometheus uses anyway.
  bool(values, key, 'http2');
  const headers: Record<string, string> = {};
  const configured = section(values.get('headers'), join(key, 'headers'));
  for (const [name, value] of configured) {
    const headerKey = join(join(key, 'headers'), name);
    if (!Object.hasOwn(ALLOWED_HEADERS, name)) {
      throw new WebConfigProblem(headerKey, `this header cannot be configured; the ones that can are ${Object.keys(ALLOWED_HEADERS).join(', ')}`);
    }
    if (typeof value !== 'string') throw new WebConfigProblem(headerKey, 'expected a string');
    const allowed = ALLOWED_HEADERS[name];
    if (allowed !== undefined && !allowed.includes(value)) {
      throw new WebConfigProblem(headerKey, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    }
    if (/[^\t\x20-\x7e]/.test(value)) throw new WebConfigProblem(headerKey, 'holds a control or non-ASCII character');
    if (value !== '') headers[name] = value;
  }
  return headers;
}

/**
 * What the reloads of the web configuration file came to, as the reloader (http/) keeps it and
 * the self-metrics (telemetry/) show it; here, below both, so neither imports the other.
 */
export interface ReloadState {
  readonly lastReloadSuccessful: boolean;
  /** Unix time in seconds of the last successful load, start-up included. */
  readonly lastSuccessSeconds: number;
}
