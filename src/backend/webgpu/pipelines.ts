/**
 * Compute pipelines cached by (WGSL source, entry point). Kernels generate their source from a few compile-time
 * choices (transposes, aliasing), so a model's step uses a small fixed set and compiles each once per device.
 */
/// <reference types="@webgpu/types" />

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly cache = new Map<string, CachedPipeline>();

  constructor(private readonly device: GPUDevice) {}

  get(source: string, entryPoint = 'main', label = 'kernel'): CachedPipeline {
    const key = `${entryPoint}\u0000${source}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const module = this.device.createShaderModule({ code: source, label });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label });
      hit = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.cache.set(key, hit);
    }
    return hit;
  }

  get size(): number {
    return this.cache.size;
  }
}
