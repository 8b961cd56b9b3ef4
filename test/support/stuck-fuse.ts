/**
 * A procfs tree on FUSE (stuck-fuse.py) whose reads of chosen files hang until released: a
 * really stuck read(2), the kind a dead network mount or a wedged driver gives, which a FIFO
 * (refused at open) cannot imitate; or are merely slow, and return.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { FIXTURES, STUCK_FUSE } from './paths.js';
import { DEBIAN_PYTHON } from './label-safety.js';

export class StuckFuse {
  readonly mountpoint: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: AsyncIterator<string>;
  private stderr = '';

  private constructor(mountpoint: string, child: ChildProcessWithoutNullStreams) {
    this.mountpoint = mountpoint;
    this.child = child;
    this.replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Why FUSE cannot be used here, or undefined when it can be tried. */
  static unavailable(): string | undefined {
    if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
    if (!existsSync(DEBIAN_PYTHON)) return `no ${DEBIAN_PYTHON}`;
    try {
      execFileSync(DEBIAN_PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' });
    } catch {
      return 'python3-fusepy is not installed (apt-get install -y python3-fusepy fuse3)';
    }
    return undefined;
  }

  /** Mounts a read-only copy of `source`; rejects with the reason when FUSE cannot mount. */
  static async mount(source: string, options: { singleThread?: boolean } = {}): Promise<StuckFuse> {
    const mountpoint = mkdtempSync(path.join(tmpdir(), 'udp-listener-fuse-'));
    const args = [STUCK_FUSE, source, mountpoint, ...(options.singleThread === true ? ['--single-thread'] : [])];
    const child = spawn(DEBIAN_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const fuse = new StuckFuse(mountpoint, child);
    const exited = once(child, 'exit').then((): Record<string, unknown> => ({ error: `exited: ${fuse.stderr.trim()}` }));
    const first = fuse.replies
      .next()
      .then(({ value }): Record<string, unknown> => (value === undefined ? { error: fuse.stderr } : (JSON.parse(value as string) as Record<string, unknown>)));
    const reply = await Promise.race([first, exited]);
    if (reply.mounted !== true) {
      child.kill('SIGKILL');
      rmSync(mountpoint, { recursive: true, force: true });
      throw new Error(`FUSE mount failed: ${String(reply.error)}`);
    }
    return fuse;
  }

  /**
   * A mount of the captured procfs for one test, or undefined after skipping the test when FUSE
   * cannot be used here (never in CI, which installs it and runs as root).
   */
  static async mountForTest(t: TestContext, options: { singleThread?: boolean } = {}): Promise<StuckFuse | undefined> {
    const reason = StuckFuse.unavailable();
    try {
      if (reason === undefined) return await StuckFuse.mount(`${FIXTURES}procfs/real`, options);
    } catch (error) {
      if (process.env.CI === 'true') throw error;
      t.skip(`FUSE cannot be mounted here (${(error as Error).message}); skipped locally, required in CI`);
      return undefined;
    }
    if (process.env.CI === 'true') throw new Error(`CI must run the FUSE tests (.ci/run installs python3-fusepy and fuse3): ${reason}`);
    t.skip(`FUSE cannot be mounted here (${reason}); skipped locally, required in CI`);
    return undefined;
  }

  block(relative: string): Promise<unknown> {
    return this.command(`block ${relative}`);
  }

  release(relative: string): Promise<unknown> {
    return this.command(`release ${relative}`);
  }

  /** From now on the first read(2) of each opening of `relative` answers after `ms`. */
  slow(relative: string, ms: number): Promise<unknown> {
    return this.command(`slow ${relative} ${ms}`);
  }

  /** Has the helper itself read `relative` (block it first): see stuck-fuse.py's hold. */
  hold(relative: string): Promise<unknown> {
    return this.command(`hold ${relative}`);
  }

  async reads(relative: string): Promise<number> {
    return (await this.command(`count ${relative}`)).count as number;
  }

  /** Releases every blocked read, unmounts and removes the mountpoint. */
  async unmount(): Promise<void> {
    this.child.stdin.end();
    try {
      execFileSync('umount', ['-l', this.mountpoint], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    if (this.child.exitCode === null) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await once(this.child, 'exit');
      clearTimeout(timer);
    }
    rmSync(this.mountpoint, { recursive: true, force: true });
  }

  private async command(line: string): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${line}\n`);
    const { value, done } = await this.replies.next();
    if (done === true) throw new Error(`stuck-fuse exited: ${this.stderr}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  }
}
