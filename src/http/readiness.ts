/**
 * Whether this node should receive traffic, and if not, why. `/readyz` reports it; the composition
 * root moves it: starting → ready once the schema is verified → not ready while shutting down.
 */
export class Readiness {
  #ready = false;
  #reason = 'starting';

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
}
