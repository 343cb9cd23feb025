// A refresh that runs on demand (a live tick, a click) but never overlaps itself and never
// more often than once per `minGapMs`: fifty ticks in a burst cost one request, not fifty.

export class Refresher {
  /**
   * @param {() => Promise<void>} task  one refresh; errors are logged, never fatal
   * @param {number} minGapMs  least time between the starts of two runs
   */
  constructor(task, minGapMs) {
    this.task = task;
    this.minGapMs = minGapMs;
    this.lastStart = -Infinity;
    this.running = false;
    this.pending = false;
    this.timer = null;
  }

  /** Run as soon as allowed; `now` skips the gap (a user's click should not wait). */
  kick(now = false) {
    if (this.running) {
      this.pending = true;
      return;
    }
    const wait = now ? 0 : this.lastStart + this.minGapMs - performance.now();
    if (wait <= 0) {
      this.#run();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.#run(), wait);
    }
  }

  async #run() {
    clearTimeout(this.timer);
    this.timer = null;
    this.running = true;
    this.lastStart = performance.now();
    try {
      await this.task();
    } catch (err) {
      console.error(err);
    } finally {
      this.running = false;
    }
    if (this.pending) {
      this.pending = false;
      this.kick();
    }
  }
}
