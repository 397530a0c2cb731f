/**
 * Whether this node should receive traffic, and if not, why. `/readyz` reports it; the composition
 * root moves it: starting → ready once the schema is verified → not ready while shutting down. Once
 * ready, `check()` also asks the database (one probe at a time, answered within `probeTimeoutMs`), so
 * a node whose database went away is taken out of rotation until it comes back.
 */
export class Readiness {
  #ready = false;
  #reason = 'starting';
  readonly #probe: (() => Promise<void>) | undefined;
  readonly #probeTimeoutMs: number;
  #probing: Promise<string | null> | undefined;

  constructor(options: { probe?: () => Promise<void>; probeTimeoutMs?: number } = {}) {
    this.#probe = options.probe;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get reason(): string {
    return this.#reason;
  }

  markReady(): void {
    this.#ready = true;
    this.#reason = 'ready';
  }

  markNotReady(reason: string): void {
    this.#ready = false;
    this.#reason = reason;
  }

  /** Ready and the database answering; otherwise the reason in plain words. */
  async check(): Promise<{ ready: true } | { ready: false; reason: string }> {
    if (!this.#ready) return { ready: false, reason: this.#reason };
    if (!this.#probe) return { ready: true };
    this.#probing ??= this.#runProbe(this.#probe).finally(() => (this.#probing = undefined));
    const failure = await this.#probing;
    return failure === null ? { ready: true } : { ready: false, reason: failure };
  }

  async #runProbe(probe: () => Promise<void>): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`the database did not answer within ${this.#probeTimeoutMs} ms`),
        this.#probeTimeoutMs,
      );
    });
    try {
      return await Promise.race([
        probe().then(
          () => null,
          () => 'the database is unreachable',
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
