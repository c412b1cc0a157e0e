/**
 * Suites that need a system program (redis-server, Chromium). When it is missing they must never
 * pass silently:
 * - with CI set (CI=true, as .ci/run does, which installs the programs), the suite FAILS with the reason;
 * - elsewhere the suite is skipped (jest counts its tests as skipped) and one line says why, e.g.
 *   `skipped: redis-server not found — apt-get install redis-server`, printed once per jest run
 *   however many suites and workers skip for the same reason.
 */
import { statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const isCi = (): boolean => !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

export interface SystemTool {
  /** What is missing, as the line names it: "redis-server", "Chromium". */
  tool: string;
  /** Where it was looked for, for the CI failure. */
  lookedAt: string;
  /** The command that installs it. */
  install: string;
}

/** The jest run this process belongs to: the parent when we are a jest worker, else ourselves (--runInBand). */
const runPid = (): number => (typeof process.send === 'function' ? process.ppid : process.pid);

/** True the first time in this jest run that `tool` is reported (a marker file shared by the workers). */
function firstReport(tool: string): boolean {
  const marker = join(tmpdir(), `express-oauth-kit-skip-${runPid()}-${tool.replace(/[^a-z0-9]/gi, '_')}`);
  // A marker older than this process is left from an earlier run whose pid was reused.
  const started = Date.now() - process.uptime() * 1000 - 5000;
  const m = statSync(marker, { throwIfNoEntry: false });
  if (m && m.mtimeMs >= started) return false;
  try {
    writeFileSync(marker, '', { flag: m ? 'w' : 'wx' });
    return true;
  } catch {
    return false; // another worker wrote it first
  }
}

/** `describe` when `present`; otherwise a failing suite under CI, or a skipped suite and one line. */
export function describeWithTool(present: boolean, need: SystemTool, name: string, body: () => void): void {
  if (present) {
    describe(name, body);
    return;
  }
  if (isCi()) {
    describe(name, () => {
      test(`${need.tool} is installed (required when CI is set)`, () => {
        throw new Error(`CI is set, so "${name}" must run, but ${need.tool} was not found (${need.lookedAt}). Install it: ${need.install}`);
      });
    });
    return;
  }
  // stderr directly, not console.warn: jest would wrap a console call in a multi-line block with a stack.
  if (firstReport(need.tool)) process.stderr.write(`\nskipped: ${need.tool} not found — ${need.install} (suites that need it are counted as skipped)\n`);
  describe.skip(name, body);
}
