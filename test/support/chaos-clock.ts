/**
 * A machine clock that is wrong, for one process: `node --import ./test/support/chaos-clock.ts …` with
 * `LOOKOUT_CHAOS_CLOCK_OFFSET_MS=300000` makes `Date.now()` and `new Date()` run that far ahead (negative:
 * behind), as a host whose clock drifted would; monotonic timers (`setTimeout`, `performance.now`) are
 * untouched, as they are on such a host. Only the chaos suite loads it.
 */
const offset = Number(process.env.LOOKOUT_CHAOS_CLOCK_OFFSET_MS ?? '0');
if (Number.isFinite(offset) && offset !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offset);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return realNow() + offset;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
