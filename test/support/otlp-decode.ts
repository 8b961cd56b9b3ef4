/**
 * Decoders for an OTLP ExportMetricsServiceRequest, in both encodings a collector accepts:
 * binary protobuf (a small hand-written wire reader) and OTLP/JSON. One walker reads the OTLP
 * structure through an interface both encodings implement, so the two cannot drift apart.
 *
 * Strict on purpose: anything a real exporter would never send (a histogram, two values in one
 * oneof, a wrong wire type, an int64 beyond 2^53 as a data point value, a duplicate attribute
 * key) throws an error that names where it is, so a test can never pass on garbage.
 *
 * Field numbers: opentelemetry-proto, metrics/v1/metrics.proto, common/v1/common.proto,
 * resource/v1/resource.proto, collector/metrics/v1/metrics_service.proto.
 */

/** int_value decodes to bigint, double_value to number, bytes_value to Uint8Array, an empty AnyValue to null. */
export type AttributeValue =
  | string
  | number
  | boolean
  | bigint
  | Uint8Array
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export interface DecodedDataPoint {
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** as_double, or as_int converted to a number (decoding throws beyond 2^53). */
  readonly value: number;
  /** Which field of the value oneof carried it. */
  readonly valueType: 'int' | 'double';
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
}

export interface DecodedMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly kind: 'gauge' | 'sum';
  /** Sums only. */
  readonly isMonotonic?: boolean;
  /** Sums only. */
  readonly aggregationTemporality?: 'delta' | 'cumulative';
  readonly dataPoints: readonly DecodedDataPoint[];
}

export interface DecodedScope {
  readonly name: string;
  readonly version: string;
  readonly metrics: readonly DecodedMetric[];
}

export interface DecodedExport {
  readonly resourceAttributes: Readonly<Record<string, AttributeValue>>;
  readonly scopes: readonly DecodedScope[];
}

export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}

/** A field as both encodings name it: its number on the wire, its lowerCamelCase key in JSON. */
interface Field {
  readonly number: number;
  readonly protoName: string;
  readonly jsonName: string;
}

function field(number: number, protoName: string): Field {
  return { number, protoName, jsonName: protoName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) };
}

const ExportMetricsServiceRequest = { resource_metrics: field(1, 'resource_metrics') };
const ResourceMetrics = { resource: field(1, 'resource'), scope_metrics: field(2, 'scope_metrics') };
const Resource = { attributes: field(1, 'attributes') };
const ScopeMetrics = { scope: field(1, 'scope'), metrics: field(2, 'metrics') };
const InstrumentationScope = { name: field(1, 'name'), version: field(2, 'version') };
const Metric = {
  name: field(1, 'name'),
  description: field(2, 'description'),
  unit: field(3, 'unit'),
  gauge: field(5, 'gauge'),
  sum: field(7, 'sum'),
  histogram: field(9, 'histogram'),
  exponential_histogram: field(10, 'exponential_histogram'),
  summary: field(11, 'summary'),
};
const Gauge = { data_points: field(1, 'data_points') };
const Sum = { data_points: field(1, 'data_points'), aggregation_temporality: field(2, 'aggregation_temporality'), is_monotonic: field(3, 'is_monotonic') };
const NumberDataPoint = {
  start_time_unix_nano: field(2, 'start_time_unix_nano'),
  time_unix_nano: field(3, 'time_unix_nano'),
  as_double: field(4, 'as_double'),
  as_int: field(6, 'as_int'),
  attributes: field(7, 'attributes'),
};
const KeyValue = { key: field(1, 'key'), value: field(2, 'value') };
const AnyValue = {
  string_value: field(1, 'string_value'),
  bool_value: field(2, 'bool_value'),
  int_value: field(3, 'int_value'),
  double_value: field(4, 'double_value'),
  array_value: field(5, 'array_value'),
  kvlist_value: field(6, 'kvlist_value'),
  bytes_value: field(7, 'bytes_value'),
  string_value_strindex: field(8, 'string_value_strindex'),
};
const ArrayValue = { values: field(1, 'values') };
const KeyValueList = { values: field(1, 'values') };

/** What the walker needs from one message, whichever encoding it came in. Absent scalars read as undefined. */
interface MessageReader {
  readonly where: string;
  has(f: Field): boolean;
  messages(f: Field): MessageReader[];
  message(f: Field): MessageReader | undefined;
  string(f: Field): string | undefined;
  bool(f: Field): boolean | undefined;
  enumValue(f: Field): number | undefined;
  int64(f: Field): bigint | undefined;
  fixed64(f: Field): bigint | undefined;
  sfixed64(f: Field): bigint | undefined;
  double(f: Field): number | undefined;
  bytes(f: Field): Uint8Array | undefined;
}

// ---------------------------------------------------------------------------------------------
// The OTLP structure, read once for both encodings.

function decodeExport(request: MessageReader): DecodedExport {
  const resourceMetrics = request.messages(ExportMetricsServiceRequest.resource_metrics);
  if (resourceMetrics.length === 0) return { resourceAttributes: {}, scopes: [] };
  if (resourceMetrics.length > 1) {
    throw new OtlpDecodeError(
      `${request.where}: ${resourceMetrics.length} resource_metrics; the JS exporters send one per export and this receiver expects exactly one`,
    );
  }
  const resourceMetric = resourceMetrics[0]!;
  const resource = resourceMetric.message(ResourceMetrics.resource);
  return {
    resourceAttributes: resource === undefined ? {} : decodeAttributes(resource, Resource.attributes),
    scopes: resourceMetric.messages(ResourceMetrics.scope_metrics).map(decodeScope),
  };
}

function decodeScope(scopeMetrics: MessageReader): DecodedScope {
  const scope = scopeMetrics.message(ScopeMetrics.scope);
  return {
    name: scope?.string(InstrumentationScope.name) ?? '',
    version: scope?.string(InstrumentationScope.version) ?? '',
    metrics: scopeMetrics.messages(ScopeMetrics.metrics).map(decodeMetric),
  };
}

const UNSUPPORTED_KINDS = [Metric.histogram, Metric.exponential_histogram, Metric.summary];

function decodeMetric(metric: MessageReader): DecodedMetric {
  const name = metric.string(Metric.name) ?? '';
  const where = `${metric.where} (${JSON.stringify(name)})`;
  const present = [Metric.gauge, Metric.sum, ...UNSUPPORTED_KINDS].filter((f) => metric.has(f));
  if (present.length !== 1) {
    const holds = present.length === 0 ? 'nothing' : present.map((f) => f.protoName).join(' and ');
    throw new OtlpDecodeError(`${where}: the data oneof holds ${holds}; expected exactly one`);
  }
  const kind = present[0]!;
  if (UNSUPPORTED_KINDS.includes(kind)) {
    throw new OtlpDecodeError(`${where}: is a ${kind.protoName}; this receiver decodes only gauges and sums, the only kinds the service sends`);
  }
  const common = { name, description: metric.string(Metric.description) ?? '', unit: metric.string(Metric.unit) ?? '' };
  if (kind === Metric.gauge) {
    const gauge = metric.message(Metric.gauge)!;
    return { ...common, kind: 'gauge', dataPoints: gauge.messages(Gauge.data_points).map(decodeDataPoint) };
  }
  const sum = metric.message(Metric.sum)!;
  const temporality = sum.enumValue(Sum.aggregation_temporality) ?? 0;
  if (temporality !== 1 && temporality !== 2) {
    throw new OtlpDecodeError(`${sum.where}: aggregation_temporality is ${temporality}; only 1 (delta) and 2 (cumulative) are valid`);
  }
  return {
    ...common,
    kind: 'sum',
    isMonotonic: sum.bool(Sum.is_monotonic) ?? false,
    aggregationTemporality: temporality === 1 ? 'delta' : 'cumulative',
    dataPoints: sum.messages(Sum.data_points).map(decodeDataPoint),
  };
}

function decodeDataPoint(point: MessageReader): DecodedDataPoint {
  const asDouble = point.double(NumberDataPoint.as_double);
  const asInt = point.sfixed64(NumberDataPoint.as_int);
  if ((asDouble === undefined) === (asInt === undefined)) {
    const holds = asDouble === undefined ? 'nothing' : 'both as_double and as_int';
    throw new OtlpDecodeError(`${point.where}: the value oneof holds ${holds}; expected exactly one`);
  }
  const startTimeUnixNano = point.fixed64(NumberDataPoint.start_time_unix_nano);
  const timeUnixNano = point.fixed64(NumberDataPoint.time_unix_nano);
  if (timeUnixNano === undefined || timeUnixNano === 0n) throw new OtlpDecodeError(`${point.where}: time_unix_nano is missing`);
  return {
    attributes: decodeAttributes(point, NumberDataPoint.attributes),
    value: asInt === undefined ? asDouble! : safeNumber(asInt, `${point.where}.as_int`),
    valueType: asInt === undefined ? 'double' : 'int',
    startTimeUnixNano: startTimeUnixNano ?? 0n,
    timeUnixNano,
  };
}

function safeNumber(value: bigint, where: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new OtlpDecodeError(`${where}: ${value} does not fit a JavaScript number exactly (beyond 2^53)`);
  }
  return Number(value);
}

function decodeAttributes(owner: MessageReader, f: Field): Record<string, AttributeValue> {
  return decodeKeyValues(owner.messages(f), `${owner.where}.${f.protoName}`);
}

function decodeKeyValues(keyValues: readonly MessageReader[], where: string): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const keyValue of keyValues) {
    const key = keyValue.string(KeyValue.key) ?? '';
    if (Object.hasOwn(attributes, key)) throw new OtlpDecodeError(`${where}: key ${JSON.stringify(key)} appears twice`);
    const value = keyValue.message(KeyValue.value);
    attributes[key] = value === undefined ? null : decodeAnyValue(value);
  }
  return attributes;
}

function decodeAnyValue(value: MessageReader): AttributeValue {
  const present = Object.values(AnyValue).filter((f) => value.has(f));
  if (present.length > 1) throw new OtlpDecodeError(`${value.where}: the value oneof holds ${present.map((f) => f.protoName).join(' and ')}`);
  switch (present[0]) {
    case undefined:
      return null;
    case AnyValue.string_value:
      return value.string(AnyValue.string_value)!;
    case AnyValue.bool_value:
      return value.bool(AnyValue.bool_value)!;
    case AnyValue.int_value:
      return value.int64(AnyValue.int_value)!;
    case AnyValue.double_value:
      return value.double(AnyValue.double_value)!;
    case AnyValue.bytes_value:
      return value.bytes(AnyValue.bytes_value)!;
    case AnyValue.array_value:
      return value.message(AnyValue.array_value)!.messages(ArrayValue.values).map(decodeAnyValue);
    case AnyValue.kvlist_value: {
      const list = value.message(AnyValue.kvlist_value)!;
      return decodeKeyValues(list.messages(KeyValueList.values), list.where);
    }
    default:
      throw new OtlpDecodeError(`${value.where}: ${present[0].protoName} is a profiles dictionary index, never valid in metrics`);
  }
}

// ---------------------------------------------------------------------------------------------
// Binary protobuf: https://protobuf.dev/programming-guides/encoding/

const enum WireType {
  Varint = 0,
  I64 = 1,
  Len = 2,
  I32 = 5,
}

const WIRE_TYPE_NAMES: Record<number, string> = { 0: 'VARINT', 1: 'I64', 2: 'LEN', 3: 'SGROUP', 4: 'EGROUP', 5: 'I32' };

interface VarintField {
  readonly number: number;
  readonly wireType: WireType.Varint;
  readonly varint: bigint;
}
interface BytesField {
  readonly number: number;
  readonly wireType: WireType.I64 | WireType.Len | WireType.I32;
  readonly bytes: Uint8Array;
}
type WireField = VarintField | BytesField;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readVarint(buffer: Uint8Array, start: number, where: string): [value: bigint, next: number] {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const byte = buffer[start + i];
    if (byte === undefined) throw new OtlpDecodeError(`${where}: varint truncated at byte ${start + i}`);
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return [BigInt.asUintN(64, value), start + i + 1];
  }
  throw new OtlpDecodeError(`${where}: varint at byte ${start} is longer than 10 bytes`);
}

/** Splits one message into its fields, in wire order. Unknown fields are kept here and ignored by the accessors. */
function readFields(buffer: Uint8Array, where: string): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buffer.length) {
    const tagAt = pos;
    const [tag, afterTag] = readVarint(buffer, pos, where);
    pos = afterTag;
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (number < 1 || number > 2 ** 29 - 1) throw new OtlpDecodeError(`${where}: invalid field number ${number} at byte ${tagAt}`);
    const take = (length: number): Uint8Array => {
      if (pos + length > buffer.length) {
        const left = buffer.length - pos;
        throw new OtlpDecodeError(`${where}: field ${number} (${WIRE_TYPE_NAMES[wireType]}) at byte ${tagAt} needs ${length} bytes, ${left} left`);
      }
      const bytes = buffer.subarray(pos, pos + length);
      pos += length;
      return bytes;
    };
    switch (wireType) {
      case WireType.Varint: {
        const [varint, next] = readVarint(buffer, pos, where);
        pos = next;
        fields.push({ number, wireType, varint });
        break;
      }
      case WireType.I64:
        fields.push({ number, wireType, bytes: take(8) });
        break;
      case WireType.I32:
        fields.push({ number, wireType, bytes: take(4) });
        break;
      case WireType.Len: {
        const [length, next] = readVarint(buffer, pos, where);
        pos = next;
        fields.push({ number, wireType, bytes: take(Number(length)) });
        break;
      }
      default:
        throw new OtlpDecodeError(`${where}: field ${number} at byte ${tagAt} has wire type ${WIRE_TYPE_NAMES[wireType] ?? wireType}, which OTLP never uses`);
    }
  }
  return fields;
}

class ProtobufMessage implements MessageReader {
  private readonly fields: WireField[];

  constructor(
    bytes: Uint8Array,
    readonly where: string,
  ) {
    this.fields = readFields(bytes, where);
  }

  has(f: Field): boolean {
    return this.fields.some((w) => w.number === f.number);
  }

  messages(f: Field): MessageReader[] {
    return this.all(f, WireType.Len).map((w, i) => new ProtobufMessage((w as BytesField).bytes, `${this.where}.${f.protoName}[${i}]`));
  }

  message(f: Field): MessageReader | undefined {
    const bytes = this.oneBytes(f, WireType.Len);
    return bytes && new ProtobufMessage(bytes, `${this.where}.${f.protoName}`);
  }

  string(f: Field): string | undefined {
    const bytes = this.oneBytes(f, WireType.Len);
    if (bytes === undefined) return undefined;
    try {
      return utf8.decode(bytes);
    } catch {
      throw new OtlpDecodeError(`${this.where}.${f.protoName}: not valid UTF-8`);
    }
  }

  bool(f: Field): boolean | undefined {
    const varint = this.oneVarint(f);
    return varint === undefined ? undefined : varint !== 0n;
  }

  enumValue(f: Field): number | undefined {
    const varint = this.oneVarint(f);
    return varint === undefined ? undefined : Number(BigInt.asIntN(32, varint));
  }

  int64(f: Field): bigint | undefined {
    const varint = this.oneVarint(f);
    return varint === undefined ? undefined : BigInt.asIntN(64, varint);
  }

  fixed64(f: Field): bigint | undefined {
    return this.oneI64(f)?.getBigUint64(0, true);
  }

  sfixed64(f: Field): bigint | undefined {
    return this.oneI64(f)?.getBigInt64(0, true);
  }

  double(f: Field): number | undefined {
    return this.oneI64(f)?.getFloat64(0, true);
  }

  bytes(f: Field): Uint8Array | undefined {
    const bytes = this.oneBytes(f, WireType.Len);
    return bytes && Uint8Array.from(bytes);
  }

  private all(f: Field, wireType: WireType): WireField[] {
    const found = this.fields.filter((w) => w.number === f.number);
    for (const w of found) {
      if (w.wireType !== wireType) {
        const got = WIRE_TYPE_NAMES[w.wireType];
        throw new OtlpDecodeError(`${this.where}.${f.protoName} (field ${f.number}): wire type ${got}, expected ${WIRE_TYPE_NAMES[wireType]}`);
      }
    }
    return found;
  }

  /** A singular field. Protobuf would let a repeated occurrence win or merge; no exporter sends one, so it is an error here. */
  private one(f: Field, wireType: WireType): WireField | undefined {
    const found = this.all(f, wireType);
    if (found.length > 1) throw new OtlpDecodeError(`${this.where}.${f.protoName} (field ${f.number}): singular field appears ${found.length} times`);
    return found[0];
  }

  private oneVarint(f: Field): bigint | undefined {
    return (this.one(f, WireType.Varint) as VarintField | undefined)?.varint;
  }

  private oneBytes(f: Field, wireType: BytesField['wireType']): Uint8Array | undefined {
    return (this.one(f, wireType) as BytesField | undefined)?.bytes;
  }

  private oneI64(f: Field): DataView | undefined {
    const bytes = this.oneBytes(f, WireType.I64);
    return bytes && new DataView(bytes.buffer, bytes.byteOffset, 8);
  }
}

/** Decodes a binary ExportMetricsServiceRequest; throws OtlpDecodeError on anything malformed or unexpected. */
export function decodeProtobufExport(bytes: Uint8Array): DecodedExport {
  return decodeExport(new ProtobufMessage(bytes, 'ExportMetricsServiceRequest'));
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON: the proto3 JSON mapping with lowerCamelCase keys only, integer enums, and 64-bit
// integers as decimal strings (numbers accepted too). Unknown keys are ignored, as the spec says.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

class JsonMessage implements MessageReader {
  private readonly object: Readonly<Record<string, unknown>>;

  constructor(
    value: unknown,
    readonly where: string,
  ) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new OtlpDecodeError(`${where}: expected a JSON object, got ${describe(value)}`);
    }
    this.object = value as Record<string, unknown>;
  }

  /** proto3 JSON: null means the field is absent. */
  has(f: Field): boolean {
    return this.object[f.jsonName] !== undefined && this.object[f.jsonName] !== null;
  }

  messages(f: Field): MessageReader[] {
    const value = this.get(f);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw this.wrong(f, 'an array', value);
    return value.map((item, i) => new JsonMessage(item, `${this.where}.${f.protoName}[${i}]`));
  }

  message(f: Field): MessageReader | undefined {
    const value = this.get(f);
    return value === undefined ? undefined : new JsonMessage(value, `${this.where}.${f.protoName}`);
  }

  string(f: Field): string | undefined {
    const value = this.get(f);
    if (value !== undefined && typeof value !== 'string') throw this.wrong(f, 'a string', value);
    return value;
  }

  bool(f: Field): boolean | undefined {
    const value = this.get(f);
    if (value !== undefined && typeof value !== 'boolean') throw this.wrong(f, 'true or false', value);
    return value;
  }

  enumValue(f: Field): number | undefined {
    const value = this.get(f);
    if (value !== undefined && !Number.isInteger(value)) throw this.wrong(f, 'an integer (OTLP/JSON forbids enum names)', value);
    return value as number | undefined;
  }

  int64(f: Field): bigint | undefined {
    return this.integer(f, INT64_MIN, INT64_MAX);
  }

  fixed64(f: Field): bigint | undefined {
    return this.integer(f, 0n, UINT64_MAX);
  }

  sfixed64(f: Field): bigint | undefined {
    return this.integer(f, INT64_MIN, INT64_MAX);
  }

  double(f: Field): number | undefined {
    const value = this.get(f);
    if (value === undefined || typeof value === 'number') return value;
    if (typeof value === 'string') {
      if (value === 'NaN') return NaN;
      if (value === 'Infinity') return Infinity;
      if (value === '-Infinity') return -Infinity;
      if (value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    }
    throw this.wrong(f, 'a number, or "NaN", "Infinity", "-Infinity"', value);
  }

  bytes(f: Field): Uint8Array | undefined {
    const value = this.get(f);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw this.wrong(f, 'base64', value);
    return new Uint8Array(Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64'));
  }

  private get(f: Field): unknown {
    const value = this.object[f.jsonName];
    return value === null ? undefined : value;
  }

  private integer(f: Field, min: bigint, max: bigint): bigint | undefined {
    const value = this.get(f);
    if (value === undefined) return undefined;
    let parsed: bigint;
    if (typeof value === 'string' && /^-?\d+$/.test(value)) parsed = BigInt(value);
    else if (typeof value === 'number' && Number.isSafeInteger(value)) parsed = BigInt(value);
    else if (typeof value === 'number' && Number.isInteger(value)) {
      throw new OtlpDecodeError(
        `${this.where}.${f.protoName}: ${value} sent as a JSON number beyond 2^53 has lost precision; 64-bit integers belong in decimal strings`,
      );
    } else throw this.wrong(f, 'a 64-bit integer (decimal string or number)', value);
    if (parsed < min || parsed > max) throw new OtlpDecodeError(`${this.where}.${f.protoName}: ${parsed} is out of range`);
    return parsed;
  }

  private wrong(f: Field, expected: string, got: unknown): OtlpDecodeError {
    return new OtlpDecodeError(`${this.where}.${f.jsonName}: expected ${expected}, got ${describe(got)}`);
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Decodes an OTLP/JSON ExportMetricsServiceRequest; throws OtlpDecodeError on anything malformed or unexpected. */
export function decodeJsonExport(text: string): DecodedExport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new OtlpDecodeError(`ExportMetricsServiceRequest: not JSON: ${(error as Error).message}`);
  }
  return decodeExport(new JsonMessage(parsed, 'ExportMetricsServiceRequest'));
}

/** The one metric of that name across all scopes of an export; throws if several scopes have one. */
export function metricNamed(decoded: DecodedExport, name: string): DecodedMetric | undefined {
  const found = decoded.scopes.flatMap((scope) => scope.metrics.filter((m) => m.name === name));
  if (found.length > 1) throw new Error(`${found.length} metrics named ${name} in one export`);
  return found[0];
}

export function describeAttributes(attributes: Readonly<Record<string, AttributeValue>>): string {
  return `{${Object.entries(attributes)
    .map(([k, v]) => `${k}=${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))}`)
    .join(', ')}}`;
}
