/**
 * Automatic JSON exports of a collector: every autoExportIntervalSec (one
 * at a time: a history slower to write than the interval never piles up
 * exports), and once on exit when exportOnExit is set (on 'beforeExit', and
 * on SIGTERM, after which the signal is raised again so the process still
 * ends as a SIGTERM does, unless the application has its own handler).
 * Failures emit one PERFPROBE_EXPORT_FAILED warning, never an exception.
 * The export itself is the collector's exportToJson(), which the exporters
 * layer provides: this file only decides when.
 */
import { WarningCode } from '../errors.js';
import { errorMessageOf } from './timer.js';

/** How long a SIGTERM waits for the final export before the process ends anyway. */
const SIGTERM_GRACE_MS = 5000;

export class AutoExport {
  private timer: NodeJS.Timeout | null = null;
  private exitHooks: { beforeExit: () => void; sigterm: () => void } | null = null;
  private exitExportDone = false;
  private inFlight = false;
  private warned = false;

  constructor(private readonly exportNow: () => Promise<string>) {}

  /** Applies the interval (0 = off) and the exit hook setting. */
  apply(intervalSec: number, onExit: boolean): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (intervalSec > 0) {
      this.timer = setInterval(() => {
        if (this.inFlight) return;
        this.inFlight = true;
        void this.quietly().finally(() => {
          this.inFlight = false;
        });
      }, intervalSec * 1000);
      this.timer.unref();
    }
    if (onExit && !this.exitHooks) {
      const beforeExit = (): void => {
        if (this.exitExportDone) return;
        this.exitExportDone = true;
        void this.quietly();
      };
      const sigterm = (): void => {
        this.removeExitHooks();
        const finish = (): void => {
          if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
        };
        if (this.exitExportDone) return finish();
        this.exitExportDone = true;
        const guard = setTimeout(finish, SIGTERM_GRACE_MS);
        this.quietly().finally(() => {
          clearTimeout(guard);
          finish();
        });
      };
      process.on('beforeExit', beforeExit);
      process.on('SIGTERM', sigterm);
      this.exitHooks = { beforeExit, sigterm };
    } else if (!onExit) {
      this.removeExitHooks();
    }
  }

  /** Stops the timer and removes the exit hooks. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.removeExitHooks();
  }

  private removeExitHooks(): void {
    if (!this.exitHooks) return;
    process.off('beforeExit', this.exitHooks.beforeExit);
    process.off('SIGTERM', this.exitHooks.sigterm);
    this.exitHooks = null;
  }

  private async quietly(): Promise<string | null> {
    try {
      return await this.exportNow();
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(`perfprobe: automatic export failed: ${errorMessageOf(err)}`, { code: WarningCode.exportFailed });
      }
      return null;
    }
  }
}
