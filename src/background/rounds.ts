/**
 * Runs a background worker's rounds one at a time: a wake during a round asks for exactly one more
 * round after it (whatever arrived meanwhile is picked up then), never a second round at once. A
 * round's failure is reported and does not stop later rounds.
 */
export class Rounds {
  readonly #round: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(round: () => Promise<void>, onError: (error: unknown) => void) {
    this.#round = round;
    this.#onError = onError;
  }

  wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#round()
      .catch(this.#onError)
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** The round under way, if any (a worker that stops waits for it). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }
}
