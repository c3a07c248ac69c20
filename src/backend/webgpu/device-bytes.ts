/**
 * The device bytes webgpu really takes, for the budget and for the partitioner's dry runs: every buffer is its size
 * class (buffer-pool.ts: up to 25 % above the request, at least 256 bytes), and three kernels take a scratch buffer
 * while they are recorded — gemm's split-K partials, sumSquares' block partials, and a copy within one buffer.
 * The sizes follow the kernels' own decisions (splitGemm, splitK, SUM_BLOCK), so a plan made with this model
 * predicts the webgpu allocator's peak exactly (test/hydra/partitioner.test.ts runs a plan on webgpu).
 */
import type { DeviceBytes, DeviceBuffer } from '../backend.js';
import { sizeClass } from './buffer-pool.js';
import { splitGemm, splitK, type GemmProblem } from './kernels/gemm.js';
import { SUM_BLOCK } from './kernels/reduce.js';
import type { KernelContext } from './kernel.js';
import type { KernelLimits } from './limits.js';

export function webgpuDeviceBytes(limits: KernelLimits): DeviceBytes {
  const of = (bytes: number) => sizeClass(bytes, limits.maxBufferSize);
  // splitGemm reads nothing of the context but its limits.
  const ctx = { limits } as KernelContext;
  const gemmScratch = (g: GemmProblem): number[] => {
    if (g.M === 0 || g.N === 0 || g.batch === 0) return [];
    const out: number[] = [];
    for (const p of splitGemm(g, ctx)) {
      const { splits } = splitK(p);
      if (splits > 1 && p.batch * splits <= limits.maxWorkgroupsPerDimension) out.push(of(p.batch * splits * p.M * p.N * 4));
    }
    return out;
  };
  return {
    of,
    scratch(kernel, a) {
      switch (kernel) {
        case 'copy': {
          const [dst, src, n, dstOffset = 0, srcOffset = 0] = a as [DeviceBuffer, DeviceBuffer, number, number?, number?];
          return n > 0 && dst === src && dstOffset !== srcOffset ? [of(n * 4)] : [];
        }
        case 'sumSquares':
          return [of(Math.max(1, Math.ceil((a[3] as number) / SUM_BLOCK)) * 8)];
        case 'gemm': {
          const [transA, transB, M, N, K, alpha, , lda, , ldb, beta, , ldc, offA = 0, offB = 0, offC = 0] = a as number[];
          return gemmScratch({ transA: !!transA, transB: !!transB, M, N, K, alpha, beta, lda, ldb, ldc, offA, offB, offC, batch: 1, strideA: 0, strideB: 0, strideC: 0 });
        }
        case 'gemmBatched': {
          const [batch, transA, transB, M, N, K, alpha, , lda, strideA, , ldb, strideB, beta, , ldc, strideC] = a as number[];
          return gemmScratch({ transA: !!transA, transB: !!transB, M, N, K, alpha, beta, lda, ldb, ldc, offA: 0, offB: 0, offC: 0, batch, strideA, strideB, strideC });
        }
        default:
          return [];
      }
    },
  };
}
