// Periodic refresh that never overlaps itself.
//
// setInterval would start a new request every period even while the last one hangs, and a
// slow API would then drown in requests from every wall screen. Here the next run is
// scheduled only once the current one has finished.

export class Poller {
  /**
   * @param {() => Promise<void>} task  one refresh; errors are logged, never fatal
   * @param {number} periodMs  pause between the end of one run and the start of the next
   */
  constructor(task, periodMs) {
    this.task = task;
    this.periodMs = periodMs;
    this.timer = null;
    this.running = false;
    this.again = false;
  }

  start() {
    this.kick();
  }

  /** Run now (e.g. after a click); if a run is in flight, run again right after it. */
  kick() {
    clearTimeout(this.timer);
    if (this.running) {
      this.again = true;
      return;
    }
    this.#run();
  }

  async #run() {
    this.running = true;
    try {
      await this.task();
    } catch (err) {
      console.error(err);
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      this.#run();
      return;
    }
    this.timer = setTimeout(() => this.#run(), this.periodMs);
  }
}
