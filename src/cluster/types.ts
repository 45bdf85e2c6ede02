/**
 * Shared counters (budgets, rate limits) and change events. One node keeps them in process; many
 * nodes share them through Redis. Both backends behave the same, so the caller never needs to know.
 */

/** One limit to check and charge at admission. */
export interface LimitCheck {
  /** Names the thing being counted, e.g. `budget:<id>` or `rl:<id>:req`. */
  counter: string
  /** Epoch ms at which the current window began; every node computes the same value. */
  windowStart: number
  /** The window's length, used only to expire its data. 0, negative or Infinity: never expires. */
  windowMs: number
  /** Admits while `used + reserved < limit`. Infinity counts without ever refusing. */
  limit: number
  /** Estimate to hold until settled; the hold is capped at what remains below the limit. */
  amount: number
}

export interface ReserveOptions {
  /** How long the hold counts if nobody settles or releases it (a node died mid-request). */
  ttlMs: number
  /** Defaults to a random UUID. Reserving again with a live id returns the existing holds. */
  reservationId?: string
}

export type ReserveResult =
  /** `remaining`: room left under each limit after this hold (Infinity when unlimited); absent on a repeated id. */
  | { ok: true; reservationId: string; reserved: number[]; remaining?: number[] }
  | {
      ok: false
      /** Index of the first check that refused. */
      index: number
      used: number
      reserved: number
      limit: number
    }

export interface CounterUsage {
  /** Settled and directly added amounts. */
  used: number
  /** Live holds of requests still in flight. */
  reserved: number
}

/** A counter window's usage as the durable store knows it, to load into counters that lost theirs. */
export interface CounterSeed {
  counter: string
  windowStart: number
  windowMs: number
  used: number
}

export interface CounterStore {
  /** All or nothing: holds every check's amount, or none when any check refuses. */
  reserve(checks: readonly LimitCheck[], opts: ReserveOptions): Promise<ReserveResult>
  /**
   * Replaces the holds with the real amounts (same order as the checks). Idempotent. `checks`, the
   * ones reserved, say where to charge when the counters lost the reservation (Redis restarted empty).
   */
  settle(reservationId: string, actual: readonly number[], checks?: readonly LimitCheck[]): Promise<void>
  /**
   * Drops the holds without charging. Idempotent; a later settle of the same id does nothing, and
   * so does a reserve of that id that reaches Redis after its caller gave up on it.
   */
  release(reservationId: string): Promise<void>
  read(counter: string, windowStart: number): Promise<CounterUsage>
  /** Charges directly, without a reservation. A negative amount refunds. */
  add(counter: string, windowStart: number, windowMs: number, amount: number): Promise<void>
  /** Sets the window's usage (admin zeroing, seeding from the database); holds stay. */
  reset(counter: string, windowStart: number, windowMs: number, used?: number): Promise<void>
  /**
   * Where the counters come from when shared counters were lost (Redis restarted empty): called
   * once per loss, before any reservation is admitted again; its failure refuses reservations.
   * In-process counters are seeded at start-up instead and never call it.
   */
  onReset?(seeds: () => Promise<CounterSeed[]>): void
  /**
   * Called synchronously when this node first sees the shared counters seeded again after a loss
   * (by itself or by another node), with the time (ms) the seed began reading the store: what the
   * node charged before and had not written to the store by then is missing; the handler adds it back.
   */
  onReseeded?(handler: (seededAt: number) => void): void
  /**
   * Called once when this node finds the shared counters lost (within half a second, or at its
   * next call), before they are seeded: the node should write its unwritten usage to the store now,
   * as the seed, a moment later, reads it from there.
   */
  onLost?(handler: () => void): void
  close(): Promise<void>
}

export type ChangeHandler = (message: unknown) => void

export interface ChangeBus {
  /** Delivers to every subscriber on every node, the publisher's own included, as a JSON copy. */
  publish(topic: string, message: unknown): Promise<void>
  /** Returns the function that unsubscribes. */
  subscribe(topic: string, handler: ChangeHandler): () => void
  /**
   * Called once the bus is subscribed again after losing its connection: messages published in
   * between may be lost, so reload whatever the messages keep fresh. Returns the function that stops it.
   */
  onReconnect(handler: () => void): () => void
  close(): Promise<void>
}

/** Where background failures go (lost connections, failing handlers); the caller logs them. */
export type ClusterErrorHandler = (error: Error, source: string) => void
