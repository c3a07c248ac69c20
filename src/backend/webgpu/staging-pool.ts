/**
 * Downloads: device buffer → pooled MAP_READ staging buffer (copyBufferToBuffer, recorded after every kernel
 * recorded so far) → mapAsync → host array. Staging buffers are reused by size class; large downloads go in
 * chunks so staging memory stays bounded. While a map is pending Dawn polls for completion; nothing is left pending
 * once the download returns (Dawn-in-Node spins a core while any of its promises is outstanding).
 */
/// <reference types="@webgpu/types" />
import { BufferPool } from './buffer-pool.js';
import type { CommandRecorder } from './recorder.js';

const CHUNK_BYTES = 64 * 2 ** 20;

export class StagingPool {
  private readonly pool: BufferPool;

  constructor(device: GPUDevice, maxBufferSize: number, private readonly recorder: CommandRecorder) {
    // MAP_READ buffers live in host-visible memory, not in the device budget: the pool bounds them by its cap alone.
    this.pool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, maxBufferSize, 2 * CHUNK_BYTES, () => Infinity, () => recorder.flush());
  }

  /** Copies `bytes` from `src` at `srcOffset` into `dst` (a byte view). */
  async read(src: GPUBuffer, srcOffset: number, bytes: number, dst: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes; done += CHUNK_BYTES) {
      const size = Math.min(CHUNK_BYTES, bytes - done);
      const { buffer, capacity } = this.pool.acquire(size, 'staging');
      try {
        this.recorder.copyBufferToBuffer(src, srcOffset + done, buffer, 0, size);
        this.recorder.flush();
        await buffer.mapAsync(GPUMapMode.READ, 0, size);
        dst.set(new Uint8Array(buffer.getMappedRange(0, size)), done);
        buffer.unmap();
      } finally {
        this.pool.release(buffer, capacity);
      }
    }
  }

  destroyAll(): void {
    this.pool.destroyAll();
  }
}
