/**
 * Preloaded with `node --import` by test/cli.test.ts: every OpenTelemetry module the process
 * imports is written to stderr as `imported <url>`, so a test can hold `check` to not loading the
 * SDK (about 150 ms of a check's start-up).
 */
import { register } from 'node:module';

register(new URL('./opentelemetry-resolve-hook.js', import.meta.url));
