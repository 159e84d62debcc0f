/** A clock the test moves by hand: TTL tests advance time instead of sleeping. */
export class FakeClock {
  /** Current time in ms. */
  time = 1_000_000;
  /** The `Clock` interface. */
  now(): number {
    return this.time;
  }
  /** Moves time forward. */
  advance(ms: number): void {
    this.time += ms;
  }
}
