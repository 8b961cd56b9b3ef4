/**
 * Issue 3, item 7: no unhandled rejection can kill the service. Node's default for one is to
 * crash the process (--unhandled-rejections=throw since Node 15); main() installs a handler that
 * logs it instead. A preload module (--import) plants stray rejections inside the real service
 * process while it serves, and the service must go on answering scrapes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseExposition, valueOf } from './support/exposition.js';
import { until } from './support/prometheus.js';
import { startService } from './support/service.js';

/** Rejects two promises nobody awaits, one and two seconds after load (the service serves by then). */
const STRAY_REJECTIONS = `data:text/javascript,${encodeURIComponent(
  "for (const n of [1, 2]) setTimeout(() => Promise.reject(new Error('stray rejection ' + n)), n * 1000);",
)}`;

it('stray promise rejections are logged, and the service keeps serving', async () => {
  const service = await startService({ UDP_LISTENER_PORTS: '9' }, { nodeArgs: ['--import', STRAY_REJECTIONS] });
  try {
    await until('the second stray rejection to be logged', async () => (service.stderr().includes('stray rejection 2') ? true : undefined), service.stderr, 10_000, 100);
    const logged = service.stderr().split('\n').filter((line) => line.includes('unhandled promise rejection'));
    assert.equal(logged.length, 2, service.stderr());
    assert.ok(logged.every((line) => line.includes('level=error')), service.stderr());
    assert.ok(logged[0]!.includes('stray rejection 1') && logged[1]!.includes('stray rejection 2'), service.stderr());

    const response = await fetch(`${service.baseUrl}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(valueOf(parseExposition(await response.text()), 'udp_listener_up', { network_local_port: '9' }), 0);
  } finally {
    assert.equal(await service.stop(), 0, service.stderr());
  }
});
