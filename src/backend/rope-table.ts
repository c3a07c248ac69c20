/**
 * The rotary-embedding table, computed on the host: the one definition the js backend writes and the webgpu backend
 * uploads (the cpu addon computes the same formula in C++). WGSL's cos/sin are not accurate enough for angles of
 * thousands of radians, and the table is tiny (T · hs floats), so no backend computes it in a shader.
 *
 * Rounding follows Hugging Face's LlamaRotaryEmbedding, which works in float32: inv[i] = 1 / theta ** (2i / hs)
 * with each operation rounded to float32, the angle t · inv[i] rounded to float32, and its cos and sin taken
 * (here in float64, then rounded once — within an ulp of PyTorch's float32 cos/sin).
 */

/** cs(2, T, hs/2): cos block then sin block. */
export function ropeTableValues(T: number, hs: number, theta: number): Float64Array {
  checkRopeArgs(T, hs, theta);
  const half = hs / 2;
  const out = new Float64Array(2 * T * half);
  for (let i = 0; i < half; i++) {
    const inv = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / hs))));
    for (let t = 0; t < T; t++) {
      const a = Math.fround(t * inv);
      out[t * half + i] = Math.fround(Math.cos(a));
      out[T * half + t * half + i] = Math.fround(Math.sin(a));
    }
  }
  return out;
}

export function checkRopeArgs(T: number, hs: number, theta: number): void {
  if (!Number.isInteger(T) || T < 0) throw new RangeError(`ropeTable: T must be a non-negative integer, got ${T}`);
  if (!Number.isInteger(hs) || hs < 2 || hs % 2 !== 0) throw new RangeError(`ropeTable: head size hs must be a positive even integer, got ${hs}`);
  if (!(theta > 0) || !Number.isFinite(theta)) throw new RangeError(`ropeTable: theta must be a positive number, got ${theta}`);
}
