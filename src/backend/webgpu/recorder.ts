/**
 * Records kernels into one command encoder and submits them in batches: a submit per kernel would cost more than
 * the kernel on small shapes. A batch is submitted when a transfer or sync needs it, or every MAX_DISPATCHES.
 *
 * Kernel parameters go into a host-side uniform arena, one aligned slot per dispatch, written to the GPU with
 * queue.writeBuffer just before the batch's submit. Queue operations run in order, so the next batch may rewrite
 * the same uniform buffer: the previous batch has read it by then.
 */
/// <reference types="@webgpu/types" />

const MAX_DISPATCHES = 512;
const MAX_PARAM_BYTES = 256;

export class CommandRecorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private readonly slot: number;
  private readonly arena: ArrayBuffer;
  private readonly arenaWords: Uint32Array;
  private arenaUsed = 0;
  private readonly uniform: GPUBuffer;
  /** Dispatches recorded since creation (for tests and benchmarks). */
  totalDispatches = 0;
  totalSubmits = 0;

  constructor(
    private readonly device: GPUDevice,
    uniformAlign: number,
  ) {
    this.slot = Math.ceil(MAX_PARAM_BYTES / uniformAlign) * uniformAlign;
    this.arena = new ArrayBuffer(this.slot * MAX_DISPATCHES);
    this.arenaWords = new Uint32Array(this.arena);
    this.uniform = device.createBuffer({ size: this.arena.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'kernel params' });
  }

  /** Records one dispatch; `params` are the words of the kernel's uniform struct. */
  dispatch(
    pipeline: GPUComputePipeline, layout: GPUBindGroupLayout, storage: GPUBindGroupEntry[], params: Uint32Array,
    groups: [number, number, number], label: string,
  ): void {
    if (params.byteLength > MAX_PARAM_BYTES) throw new Error(`${label}: ${params.byteLength} bytes of parameters exceed ${MAX_PARAM_BYTES}`);
    if (this.dispatches >= MAX_DISPATCHES) this.flush();
    const offset = this.arenaUsed;
    this.arenaWords.set(params, offset / 4);
    this.arenaUsed += this.slot;
    // A uniform struct's size is rounded up to 16 bytes; the binding must cover it.
    const size = Math.max(16, Math.ceil(params.byteLength / 16) * 16);
    const bindGroup = this.device.createBindGroup({
      layout,
      entries: [{ binding: 0, resource: { buffer: this.uniform, offset, size } }, ...storage],
      label,
    });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.dispatches++;
    this.totalDispatches++;
  }

  copyBufferToBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (size === 0) return;
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  clearBuffer(buf: GPUBuffer, offset: number, size: number): void {
    if (size === 0) return;
    this.endPass();
    this.enc().clearBuffer(buf, offset, size);
  }

  /** Submits what was recorded (no-op when nothing was). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.arenaUsed) this.device.queue.writeBuffer(this.uniform, 0, this.arena, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.dispatches = 0;
    this.arenaUsed = 0;
    this.totalSubmits++;
  }

  /** Submits and waits until everything submitted so far has run. */
  async drain(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    this.encoder = null;
    this.pass = null;
    this.uniform.destroy();
  }

  private enc(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'kernels' }));
  }
  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.enc().beginComputePass());
  }
  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}
