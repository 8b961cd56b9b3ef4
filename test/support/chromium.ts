/**
 * Debian's Chromium, headless, as a test's browser: `--dump-dom` loads a page, runs whatever
 * the page would run, and prints the DOM as it then is. No driver library: the flags are all a
 * page view needs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { requireTool } from './tools.js';

/** The browser, or undefined after skipping the test (never in CI, which installs it). */
export function requireChromium(t: TestContext): string | undefined {
  return requireTool(t, 'chromium', 'chromium');
}

export interface PageDump {
  /** The serialized DOM after the page loaded; empty when the navigation failed (a 401, say). */
  readonly dom: string;
  readonly stderr: string;
}

/**
 * Opens `url` in a fresh profile and dumps its DOM. As root Chromium needs --no-sandbox; the
 * other flags keep it from reaching for Google's services, which a closed network refuses. It
 * prints dbus errors on stderr, which are harmless.
 */
export async function dumpDom(chromium: string, url: string, timeoutMs = 60_000): Promise<PageDump> {
  const profile = mkdtempSync(path.join(tmpdir(), 'udp-listener-chromium-'));
  try {
    const child = spawn(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--dump-dom',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let dom = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (dom += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
    clearTimeout(timer);
    if (code !== 0) throw new Error(`chromium ended with ${code ?? signal} for ${url}:\n${stderr}`);
    return { dom, stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Text of serialized HTML as a reader sees it: tags dropped, entities decoded. */
export function textOf(markup: string): string {
  return markup
    .replace(/<[^>]+>/g, '')
    .replace(/&(lt|gt|quot|amp|nbsp|#\d+);/g, (entity, name: string) => {
      if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
      return { lt: '<', gt: '>', quot: '"', amp: '&', nbsp: '\u00a0' }[name] ?? entity;
    });
}
