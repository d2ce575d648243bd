import { describe, expect, it } from 'vitest';
import { AnswerMeter, CALLS_AT_ONCE, isAnswerRefusal, jsonLength, metered } from '../../src/http/answerMeter.js';
import { gate } from '../helpers/gate.js';

/** The unit tests' gate with these answer limits. */
const gateWith = (maxHttpAnswerBytes: number, maxHttpAnswerBytesPerIp: number) => gate({ maxHttpAnswerBytes, maxHttpAnswerBytesPerIp }).gate;

describe('jsonLength', () => {
  it("counts a value's JSON text without making it", () => {
    const values: unknown[] = [
      'text',
      42,
      -1.5,
      true,
      null,
      [],
      {},
      [1, 'two', [3], { four: 4 }],
      { json: { messages: [{ id: 'a', text: 'x'.repeat(500), at: 1_700_000_000_000 }] }, meta: { values: { at: ['Date'] } } },
      { date: new Date(0) },
    ];
    for (const value of values) {
      const text = JSON.stringify(value);
      expect(jsonLength(value, Number.POSITIVE_INFINITY)).toBe(text.length);
    }
    expect(jsonLength({ skipped: undefined, fn: () => 1 }, Number.POSITIVE_INFINITY)).toBe(2);
  });

  it('stops just past its limit, however large the value', () => {
    const many = { items: Array.from({ length: 1_000 }, (_, n) => ({ n, text: 'y'.repeat(100) })) };
    const counted = jsonLength(many, 10_000);
    expect(counted).toBeGreaterThan(10_000);
    expect(counted).toBeLessThan(10_200);
    // An array whose commas alone are past the limit is not walked.
    expect(jsonLength(Array.from({ length: 100_000 }, () => ({})), 10_000)).toBe(100_001);
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    expect(jsonLength(cycle, 1_000)).toBeGreaterThan(1_000);
  });
});

describe('AnswerMeter', () => {
  it('counts what the serializer makes for its request only, refuses past the answer cap, and gives the bytes back', () => {
    const g = gateWith(100, 1_000);
    const serialize = metered((value) => ({ json: value }));
    const meter = new AnswerMeter(g, 'a', 100);
    // Outside a metered request nothing is counted.
    expect(serialize('x'.repeat(500))).toEqual({ json: 'x'.repeat(500) });
    meter.around(() => serialize('x'.repeat(40)));
    let thrown: unknown;
    try {
      meter.around(() => serialize('x'.repeat(80)));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(isAnswerRefusal(thrown)).toBe(true);
    expect(isAnswerRefusal(new Error('other'))).toBe(false);
    // The error answer made of the refusal goes through.
    expect(meter.around(() => serialize({ message: 'y'.repeat(200) }))).toBeTruthy();
    meter.release();
    expect(g.beginHttpCalls('a', 1)).toBeNull();
  });

  it("refuses an answer once its address holds its share, until the address's answers are given back", () => {
    const g = gateWith(1_000, 150);
    const serialize = metered((value) => value);
    const first = new AnswerMeter(g, 'a', 1_000);
    const second = new AnswerMeter(g, 'a', 1_000);
    first.around(() => serialize('x'.repeat(100)));
    expect(() => second.around(() => serialize('x'.repeat(100)))).toThrow(/maxHttpAnswerBytesPerIp/);
    first.release();
    second.release();
    const third = new AnswerMeter(g, 'a', 1_000);
    expect(third.around(() => serialize('x'.repeat(100)))).toHaveLength(100);
  });

  it("runs a batch's calls a few at a time and none once their results are past the answer cap, refusing the batch", async () => {
    const g = gateWith(1_000, 100_000);
    const serialize = metered((value) => value);
    const meter = new AnswerMeter(g, 'a', 1_000);
    let running = 0;
    let most = 0;
    const ran: number[] = [];
    // Each call's result is 302 characters of JSON: the fourth to end takes the results past 1,000.
    const call = (n: number) => async () => {
      ran.push(n);
      most = Math.max(most, ++running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return 'x'.repeat(300);
    };
    const settled = await Promise.allSettled(Array.from({ length: 3 * CALLS_AT_ONCE }, (_, n) => meter.pace(call(n))));
    expect(most).toBe(CALLS_AT_ONCE);
    // The first wave, and the three calls that started as the first three of it ended.
    expect(ran).toHaveLength(CALLS_AT_ONCE + 3);
    const refused = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    expect(refused).toHaveLength(2 * CALLS_AT_ONCE - 3);
    expect(refused[0]).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(refused.every((error) => isAnswerRefusal(error))).toBe(true);
    // The batch is refused with it, however little of it the serializer has made; the error answer then goes through.
    expect(() => meter.around(() => serialize('small'))).toThrow(refused[0] as Error);
    expect(meter.around(() => serialize('the error answer'))).toBe('the error answer');
    meter.release();
  });

  it('runs calls outside a metered request, and a request whose results fit, in full', async () => {
    const meter = new AnswerMeter(gateWith(100_000, 100_000), 'a', 100_000);
    const results = await Promise.all(Array.from({ length: 2 * CALLS_AT_ONCE }, (_, n) => meter.pace(async () => n)));
    expect(results).toEqual(Array.from({ length: 2 * CALLS_AT_ONCE }, (_, n) => n));
    expect(meter.around(() => metered((value) => value)(results))).toBe(results);
  });
});
