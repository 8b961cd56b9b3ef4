/**
 * The OTLP decoders on input no exporter sends: hand-written protobuf (unknown fields, signs,
 * every AnyValue kind) and OTLP/JSON variants the spec allows, then everything they must refuse,
 * each with the message that tells a test author what was wrong and where.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJsonExport, decodeProtobufExport } from './support/otlp-decode.js';

// A minimal protobuf writer, to hand the decoder what no exporter sends.
function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return out;
}
const tag = (n: number, wireType: number): number[] => varint(BigInt((n << 3) | wireType));
const vint = (n: number, value: bigint): Buffer => Buffer.from([...tag(n, 0), ...varint(value)]);
const len = (n: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([...tag(n, 2), ...varint(BigInt(body.length))]), body]);
};
const str = (n: number, text: string): Buffer => len(n, Buffer.from(text));
const i64 = (n: number, write: (b: Buffer) => void): Buffer => {
  const b = Buffer.alloc(8);
  write(b);
  return Buffer.concat([Buffer.from(tag(n, 1)), b]);
};
const fixed64 = (n: number, v: bigint): Buffer => i64(n, (b) => b.writeBigUInt64LE(v));
const sfixed64 = (n: number, v: bigint): Buffer => i64(n, (b) => b.writeBigInt64LE(v));
const i32 = (n: number): Buffer => Buffer.from([...tag(n, 5), 1, 2, 3, 4]);

/** resource_metrics { scope_metrics { metrics: metric } } */
const requestWith = (metric: Buffer): Buffer => len(1, len(2, len(2, metric)));
const point = (...value: Buffer[]): Buffer => len(1, fixed64(2, 1n), fixed64(3, 2n), ...value);
const gaugeOf = (...points: Buffer[]): Buffer => Buffer.concat([str(1, 'm'), len(5, ...points)]);
const attribute = (key: string, value: Buffer): Buffer => len(7, str(1, key), len(2, value));

const jsonRequest = (metric: unknown, resourceAttributes: unknown[] = []): string =>
  JSON.stringify({ resourceMetrics: [{ resource: { attributes: resourceAttributes }, scopeMetrics: [{ scope: { name: 's' }, metrics: [metric] }] }] });
const jsonPoint = { timeUnixNano: '2', startTimeUnixNano: 1 };

describe('the decoders, on what no exporter sends', () => {
  it('protobuf: skips unknown fields of every wire type at every level, keeps signs and 64-bit values', () => {
    const request = len(
      1,
      vint(99, 7n),
      i32(98),
      len(1, len(1, str(1, 'negative'), len(2, vint(3, -3n))), len(1, str(1, 'big'), len(2, vint(3, 2n ** 62n))), vint(2, 0n), fixed64(97, 1n)),
      len(
        2,
        len(1, str(1, 'scope'), str(2, '9'), vint(4, 0n)),
        len(
          2,
          str(1, 'm'),
          str(3, 'By'),
          len(12, str(1, 'metadata')),
          len(7, len(1, fixed64(2, 5n), fixed64(3, 6n), sfixed64(6, -(2n ** 53n) + 1n), vint(8, 0n), i32(50)), vint(2, 1n), vint(3, 1n)),
        ),
      ),
    );
    assert.deepEqual(decodeProtobufExport(request), {
      resourceAttributes: { negative: -3n, big: 2n ** 62n },
      scopes: [
        {
          name: 'scope',
          version: '9',
          metrics: [
            {
              name: 'm',
              description: '',
              unit: 'By',
              kind: 'sum',
              isMonotonic: true,
              aggregationTemporality: 'delta',
              dataPoints: [{ attributes: {}, value: -(2 ** 53) + 1, valueType: 'int', startTimeUnixNano: 5n, timeUnixNano: 6n }],
            },
          ],
        },
      ],
    });
  });

  it('protobuf: decodes every AnyValue kind', () => {
    const decoded = decodeProtobufExport(
      requestWith(
        gaugeOf(
          point(
            i64(4, (b) => b.writeDoubleLE(0.5)),
            attribute('s', str(1, 'x')),
            attribute('b', vint(2, 1n)),
            attribute('i', vint(3, 7n)),
            attribute('d', i64(4, (b) => b.writeDoubleLE(2.5))),
            attribute('a', len(5, len(1, str(1, 'y')), len(1, vint(3, 1n)), len(1))),
            attribute('kv', len(6, len(1, str(1, 'inner'), len(2, vint(2, 0n))))),
            attribute('bytes', str(7, 'AB')),
            attribute('empty', Buffer.alloc(0)),
          ),
        ),
      ),
    );
    assert.deepEqual(decoded.scopes[0]!.metrics[0]!.dataPoints[0]!.attributes, {
      s: 'x',
      b: true,
      i: 7n,
      d: 2.5,
      a: ['y', 1n, null],
      kv: { inner: false },
      bytes: new Uint8Array([0x41, 0x42]),
      empty: null,
    });
  });

  const asDouble = i64(4, (b) => b.writeDoubleLE(1));
  const rejected: readonly [string, Buffer, RegExp][] = [
    ['a histogram', requestWith(Buffer.concat([str(1, 'h'), len(9)])), /metrics\[0\] \("h"\): is a histogram; this receiver decodes only gauges and sums/],
    ['a summary', requestWith(Buffer.concat([str(1, 's'), len(11)])), /is a summary/],
    ['a metric without data', requestWith(str(1, 'm')), /the data oneof holds nothing/],
    ['a gauge and a sum in one metric', requestWith(Buffer.concat([gaugeOf(point(asDouble)), len(7)])), /holds gauge and sum/],
    ['a sum of unspecified temporality', requestWith(Buffer.concat([str(1, 'm'), len(7, point(asDouble))])), /aggregation_temporality is 0/],
    ['a point without a value', requestWith(gaugeOf(point())), /data_points\[0\]: the value oneof holds nothing/],
    ['a point with both values', requestWith(gaugeOf(point(asDouble, sfixed64(6, 1n)))), /holds both as_double and as_int/],
    ['an as_int beyond 2^53', requestWith(gaugeOf(point(sfixed64(6, 2n ** 53n + 1n)))), /as_int: 9007199254740993 does not fit a JavaScript number exactly/],
    ['a duplicate attribute key', requestWith(gaugeOf(point(asDouble, attribute('k', str(1, 'a')), attribute('k', str(1, 'b'))))), /key "k" appears twice/],
    ['a name sent as a varint', requestWith(vint(1, 5n)), /metrics\[0\]\.name \(field 1\): wire type VARINT, expected LEN/],
    ['a singular field twice', requestWith(Buffer.concat([str(1, 'a'), str(1, 'b')])), /name \(field 1\): singular field appears 2 times/],
    ['a group', Buffer.from(tag(5, 3)), /wire type SGROUP, which OTLP never uses/],
    ['a truncated message', requestWith(gaugeOf(point(asDouble))).subarray(0, 20), /needs \d+ bytes, \d+ left/],
    ['a truncated varint', Buffer.from([0x08, 0x80]), /varint truncated/],
    ['invalid UTF-8', requestWith(len(1, Buffer.from([0xff, 0xfe]))), /name: not valid UTF-8/],
    ['two resources in one request', Buffer.concat([len(1), len(1)]), /2 resource_metrics/],
  ];
  for (const [what, bytes, message] of rejected) {
    it(`protobuf: rejects ${what}`, () => assert.throws(() => decodeProtobufExport(bytes), message));
  }

  it('json: takes 64-bit integers as strings or numbers, NaN as a string, bytes as base64, and ignores unknown keys', () => {
    const decoded = decodeJsonExport(
      jsonRequest(
        {
          name: 'm',
          unknownKey: 1,
          sum: { aggregationTemporality: 2, dataPoints: [{ ...jsonPoint, asInt: '-9007199254740991' }, { ...jsonPoint, asDouble: 'NaN' }] },
        },
        [
          { key: 'str', value: { intValue: '5' } },
          { key: 'num', value: { intValue: 5 } },
          { key: 'b64', value: { bytesValue: 'AQL/' } },
          { key: 'nul', value: { doubleValue: null } },
        ],
      ),
    );
    assert.deepEqual(decoded.resourceAttributes, { str: 5n, num: 5n, b64: new Uint8Array([1, 2, 255]), nul: null });
    const m = decoded.scopes[0]!.metrics[0]!;
    assert.equal(m.isMonotonic, false);
    assert.equal(m.aggregationTemporality, 'cumulative');
    assert.deepEqual(
      m.dataPoints.map((p) => [p.value, p.valueType, p.startTimeUnixNano, p.timeUnixNano]),
      [
        [-(2 ** 53) + 1, 'int', 1n, 2n],
        [NaN, 'double', 1n, 2n],
      ],
    );
  });

  const gaugeOfJson = (value: Record<string, unknown>): string => jsonRequest({ name: 'm', gauge: { dataPoints: [{ ...jsonPoint, ...value }] } });
  const jsonRejected: readonly [string, string, RegExp][] = [
    [
      'an enum by name',
      jsonRequest({ name: 'm', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA', dataPoints: [] } }),
      /aggregationTemporality: expected an integer \(OTLP\/JSON forbids enum names\)/,
    ],
    ['an int64 number beyond 2^53 (what the JSON exporter makes of 2 ** 60)', gaugeOfJson({ asInt: 1152921504606847000 }), /lost precision/],
    ['a null value (what the JSON exporter makes of NaN)', gaugeOfJson({ asDouble: null }), /the value oneof holds nothing/],
    ['a string where a number belongs', gaugeOfJson({ asDouble: 'one' }), /asDouble: expected a number/],
    ['an object where an array belongs', JSON.stringify({ resourceMetrics: {} }), /resourceMetrics: expected an array/],
    ['an exponential histogram', jsonRequest({ name: 'e', exponentialHistogram: {} }), /is a exponential_histogram/],
    ['text that is not JSON', '{"resourceMetrics": [', /not JSON/],
  ];
  for (const [what, text, message] of jsonRejected) {
    it(`json: rejects ${what}`, () => assert.throws(() => decodeJsonExport(text), message));
  }
});
