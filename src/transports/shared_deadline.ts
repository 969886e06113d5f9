/**
 * Deadlines for many short waits, served by one interval timer. In Deno a `setTimeout` per
 * request costs about 6 µs, more than some requests; here every wait that starts within one
 * period shares the same promise, and the timer stops itself one period after the last wait
 * ended. A deadline is coarse: it passes between one and two periods after it was asked for.
 *
 * @example
 * ```ts ignore
 * const deadlines = new SharedDeadline(50);
 * const hold = deadlines.start();
 * try {
 *   const first = await Promise.race([work(), hold.passed]);
 *   if (first === null) console.log("waited 50-100 ms; going on without it");
 * } finally {
 *   hold.end();
 * }
 * deadlines.stop(); // when shutting down
 * ```
 *
 * @module
 */

/** One wait: `passed` resolves with null once the deadline has passed. */
export interface Hold {
  readonly passed: Promise<null>;
  /** The wait is over (its deadline is no longer needed). Idempotent. */
  end(): void;
}

/** A source of coarse deadlines sharing one interval timer. */
export class SharedDeadline {
  readonly #ms: number;
  /** Promises for the coming ticks (index 0: the next one) and their resolvers. */
  #ticks: { promise: Promise<null>; resolve: () => void }[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #waits = 0;
  /** Bumped by {@link stop}: waits started before it no longer count. */
  #generation = 0;
  /** Whether a wait started since the last tick (the timer keeps running one more period). */
  #recent = false;

  /** `periodMs`: the deadline passes between one and two periods after {@link start}. */
  constructor(periodMs: number) {
    if (!(periodMs > 0)) throw new RangeError(`period must be positive, got ${periodMs}`);
    this.#ms = periodMs;
  }

  /** Begin a wait; call `end()` on the result when it is over. */
  start(): Hold {
    while (this.#ticks.length < 2) {
      let resolve!: () => void;
      const promise = new Promise<null>((ok) => resolve = () => ok(null));
      this.#ticks.push({ promise, resolve });
    }
    this.#timer ??= setInterval(() => this.#tick(), this.#ms);
    this.#waits++;
    this.#recent = true;
    const generation = this.#generation;
    let ended = false;
    return {
      passed: this.#ticks[1].promise,
      end: () => {
        if (ended) return;
        ended = true;
        // A wait that outlived stop() must not count against the waits started after it.
        if (generation === this.#generation) this.#waits--;
      },
    };
  }

  /** Number of waits not yet ended. */
  get waiting(): number {
    return this.#waits;
  }

  /** Whether the interval timer is running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Stop the timer; deadlines not yet passed never pass. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#ticks = [];
    this.#waits = 0;
    this.#generation++;
  }

  #tick(): void {
    this.#ticks.shift()?.resolve();
    if (this.#waits === 0 && !this.#recent) return this.stop();
    this.#recent = false;
  }
}
