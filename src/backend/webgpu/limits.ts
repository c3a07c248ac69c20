/**
 * Device limits that shape kernels, and the arithmetic that keeps every binding and dispatch inside them.
 *
 * A storage binding may be at most maxStorageBufferBindingSize bytes (128 MiB on llvmpipe, smaller than GPT-2's
 * 154 MB token embedding) and must start at a multiple of minStorageBufferOffsetAlignment. Kernels therefore bind a
 * *window* of a buffer (an aligned sub-range covering the elements one dispatch touches) and receive the window's
 * first element index (`base`) to subtract. Callers split work so that windows fit; when one cannot, the check here
 * fails with the kernel, the buffer, the bytes and the limit — never a Dawn validation error.
 */
/// <reference types="@webgpu/types" />

export interface KernelLimits {
  /** Largest storage binding in bytes (possibly lowered by an option, to exercise the split paths in tests). */
  maxBindingBytes: number;
  /** minStorageBufferOffsetAlignment. */
  bindingAlign: number;
  maxBufferSize: number;
  maxWorkgroupsPerDimension: number;
  maxStorageBuffersPerStage: number;
  uniformAlign: number;
}

export function kernelLimits(device: GPUDevice, maxBindingOverride?: number): KernelLimits {
  const l = device.limits;
  const bindingAlign = l.minStorageBufferOffsetAlignment;
  let maxBindingBytes = l.maxStorageBufferBindingSize;
  if (maxBindingOverride !== undefined) {
    if (!Number.isInteger(maxBindingOverride) || maxBindingOverride < 4 * bindingAlign) {
      throw new RangeError(`maxBindingBytes must be an integer of at least ${4 * bindingAlign} bytes (4 × minStorageBufferOffsetAlignment), got ${maxBindingOverride}`);
    }
    maxBindingBytes = Math.min(maxBindingBytes, maxBindingOverride);
  }
  maxBindingBytes -= maxBindingBytes % 4;
  return {
    maxBindingBytes,
    bindingAlign,
    maxBufferSize: l.maxBufferSize,
    maxWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerStage: l.maxStorageBuffersPerShaderStage,
    uniformAlign: l.minUniformBufferOffsetAlignment,
  };
}

/** A kernel needs more than the device allows; names what, how much and the limit. */
export class WebGpuLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuLimitError';
  }
}

export interface BindingWindow {
  /** Byte offset of the binding (aligned). */
  offset: number;
  /** Byte size of the binding. */
  size: number;
  /** Element index (in the whole buffer) of the window's first element. */
  base: number;
}

/**
 * The aligned window of a buffer that covers elements [lo, hi). `lengthBytes` is the buffer's logical size (what the
 * caller may touch), `capacityBytes` its physical size (>= lengthBytes, >= 4). An empty range still binds 4 bytes
 * (WebGPU bindings cannot be empty).
 */
export function bindingWindow(
  kernel: string, name: string, lengthBytes: number, capacityBytes: number, lo: number, hi: number, lim: KernelLimits,
): BindingWindow {
  if (hi < lo) hi = lo;
  if (lo < 0 || hi * 4 > lengthBytes) {
    throw new RangeError(`${kernel}: buffer '${name}' holds ${lengthBytes / 4} elements but the kernel needs elements [${lo}, ${hi})`);
  }
  let offset = Math.floor((lo * 4) / lim.bindingAlign) * lim.bindingAlign;
  if (offset + 4 > capacityBytes) offset = Math.max(0, Math.floor((capacityBytes - 4) / lim.bindingAlign) * lim.bindingAlign);
  const size = Math.max(hi * 4, offset + 4) - offset;
  if (size > lim.maxBindingBytes) {
    throw new WebGpuLimitError(
      `${kernel}: buffer '${name}' needs a binding of ${size} bytes (elements ${lo}..${hi}), above this device's storage ` +
        `binding limit of ${lim.maxBindingBytes} bytes (maxStorageBufferBindingSize); split the tensor or use smaller shapes`,
    );
  }
  return { offset, size, base: offset / 4 };
}

/** Whether elements [lo, hi) fit one binding once aligned. */
export function fitsBinding(lo: number, hi: number, lim: KernelLimits): boolean {
  const offset = Math.floor((lo * 4) / lim.bindingAlign) * lim.bindingAlign;
  return Math.max(hi * 4, offset + 4) - offset <= lim.maxBindingBytes;
}

/** Elements per chunk for kernels that walk a 1-D range: a window of this many always fits, aligned anywhere. */
export function chunkElements(lim: KernelLimits, multipleOf = 1): number {
  const elems = Math.floor((lim.maxBindingBytes - lim.bindingAlign) / 4);
  const n = Math.max(multipleOf, elems - (elems % multipleOf));
  if (n > elems) throw new WebGpuLimitError(`storage binding limit ${lim.maxBindingBytes} bytes is too small for a block of ${multipleOf} elements`);
  return n;
}

/** Whole rows of `cols` elements per dispatch so that a (rows × cols) slab fits one binding (at least 1). */
export function rowsPerChunk(lim: KernelLimits, cols: number, rowsTotal: number): number {
  const rows = Math.max(1, Math.floor(chunkElements(lim) / Math.max(cols, 1)));
  return Math.min(rows, Math.max(rowsTotal, 1));
}

/**
 * A 1-D count of workgroups as a 2-D grid within maxComputeWorkgroupsPerDimension (65535): x * y >= groups.
 * Kernels rebuild the linear index as wid.x + wid.y * num_workgroups.x and skip indices >= groups.
 */
export function foldWorkgroups(groups: number, lim: KernelLimits): [number, number] {
  const max = lim.maxWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / max);
  if (y > max) throw new WebGpuLimitError(`a dispatch of ${groups} workgroups exceeds ${max}² (maxComputeWorkgroupsPerDimension²)`);
  return [Math.ceil(groups / y), y];
}
