/**
 * Byte accounting shared by every backend: one place decides whether an allocation fits, so the partitioner's plan
 * and the run-time check use the same arithmetic.
 */
import { DeviceOutOfMemoryError, type MemoryStats } from './backend.js';

export class MemoryAccountant {
  private inUse = 0;
  private highWater = 0;

  constructor(
    private budget: number,
    private readonly backendName: string,
  ) {
    if (!(budget > 0)) throw new RangeError(`device budget must be a positive number of bytes, got ${budget}`);
  }

  /** Reserve bytes or throw DeviceOutOfMemoryError; nothing changes on failure. */
  reserve(bytes: number): void {
    if (this.inUse + bytes > this.budget) {
      throw new DeviceOutOfMemoryError(bytes, this.inUse, this.budget, this.backendName);
    }
    this.inUse += bytes;
    if (this.inUse > this.highWater) this.highWater = this.inUse;
  }

  release(bytes: number): void {
    this.inUse -= bytes;
    if (this.inUse < 0) throw new Error(`${this.backendName}: released more bytes than were reserved`);
  }

  stats(): MemoryStats {
    return { budget: this.budget, inUse: this.inUse, highWater: this.highWater };
  }

  resetHighWater(): void {
    this.highWater = this.inUse;
  }

  setBudget(bytes: number): void {
    if (!(bytes > 0)) throw new RangeError(`device budget must be a positive number of bytes, got ${bytes}`);
    if (bytes < this.inUse) {
      throw new RangeError(`${this.backendName}: cannot set budget ${bytes} below the ${this.inUse} bytes in use`);
    }
    this.budget = bytes;
  }
}
