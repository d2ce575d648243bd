import { nowMs } from '../lib/payload.js';
import type { PublishPlan } from '../lib/protocol.js';

/** How long the credit loop waits for an acknowledgement before it assumes loss and goes on. */
const STALL_MS = 1_000;

/**
 * Drives a system's publish in the server process, identically for every
 * system: at a fixed rate (each message at its due time, catch-up bursts
 * capped), or as fast as the subscribers take them (credit: at most
 * `windowMessages` messages ahead of what the load generator has received
 * from every subscriber, in bursts between which the event loop does I/O).
 */
export class Publisher {
  published = 0;
  errors = 0;
  stalls = 0;
  private run = 0;
  private timer: NodeJS.Timeout | null = null;
  private delivered = 0;
  private pumping = false;
  private onAck: (() => void) | null = null;

  constructor(private readonly publishOne: () => void | Promise<unknown>) {}

  start(plan: PublishPlan): void {
    this.stop();
    const run = ++this.run;
    if (plan.mode === 'fixed') this.fixed(run, plan.messagesPerSec, plan.count ?? Number.POSITIVE_INFINITY);
    else if (plan.mode === 'credit') this.credit(run, plan.subscribers, plan.windowMessages);
    else for (let i = 0; i < plan.count; i++) this.one();
  }

  stop(): void {
    this.run++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The load generator's delivery count since the plan started (relayed by the orchestrator). */
  acknowledge(delivered: number): void {
    this.delivered = delivered;
    this.onAck?.();
  }

  private one(): void {
    this.published++;
    try {
      const result = this.publishOne();
      if (result) result.catch(() => this.errors++);
    } catch {
      this.errors++;
    }
  }

  private fixed(run: number, perSec: number, count: number): void {
    const start = nowMs();
    const maxBurst = Math.max(1, Math.ceil(perSec / 100));
    let sent = 0;
    const tick = () => {
      if (run !== this.run || sent >= count) return;
      const due = Math.min(count, Math.floor(((nowMs() - start) * perSec) / 1000) + 1);
      for (let burst = 0; sent < due && burst < maxBurst; burst++, sent++) this.one();
      this.timer = setTimeout(tick, Math.max(0, start + (sent * 1000) / perSec - nowMs()));
    };
    tick();
  }

  private credit(run: number, subscribers: number, window: number): void {
    let sent = 0;
    let forgiven = 0;
    this.delivered = 0;
    const allowed = () => Math.floor((this.delivered + forgiven) / subscribers) + window;
    const pump = () => {
      this.pumping = false;
      if (run !== this.run) return;
      for (let burst = 0; sent < allowed() && burst < window; burst++, sent++) this.one();
      if (sent < allowed()) {
        this.pumping = true;
        setImmediate(pump);
        return;
      }
      // Out of credit: wait for acknowledgements, but not forever (a lost delivery would stall the loop).
      if (this.timer) clearTimeout(this.timer);
      const acksBefore = acks;
      this.timer = setTimeout(() => {
        // Timers run before the poll phase reads IPC: after a long busy stretch an acknowledgement may
        // be waiting unread, so look again once the poll phase has run.
        setImmediate(() => {
          if (run !== this.run || acks !== acksBefore || this.pumping) return;
          this.stalls++;
          forgiven = sent * subscribers - this.delivered;
          pump();
        });
      }, STALL_MS);
    };
    let acks = 0;
    this.onAck = () => {
      acks++;
      if (run !== this.run || this.pumping) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.pumping = true;
      setImmediate(pump);
    };
    pump();
  }
}
