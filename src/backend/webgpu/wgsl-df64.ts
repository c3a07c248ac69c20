/**
 * Float-float ("df64") arithmetic in WGSL: a value is an unevaluated sum hi + lo of two f32, about 48 bits of
 * precision. GPUs have no usable float64 in WGSL, but the js oracle computes optimizer updates, axpy and reductions
 * in float64 and rounds once; where a float32 formula would lose to cancellation (m = β1·m + (1-β1)·g near zero,
 * y + α·x near zero), these error-free transformations give the once-rounded result instead.
 *
 * No fused multiply-add is assumed (OpenGL ES may not fuse `fma`): products are made exact with Dekker's algorithm,
 * splitting each factor by masking its mantissa (12 + 12 significant bits), which integer ops do exactly whatever
 * the float optimiser does. Shader compilers do reassociate float additions (Mesa folds Knuth's two-sum error term
 * (a - (s - (s - a))) + (b - (s - a)) to 0), so every intermediate sum the algorithms depend on passes through
 * `opaque`: an XOR of its bits with a uniform that is always 0 but unknown at compile time. The conformance tests
 * compare results with float64 on every device they run on, so a compiler that still sees through this shows.
 *
 * Kernels using this module must have the `opaque_zero` parameter (kernel.ts adds it to every kernel).
 *
 * Host side: `splitF64` turns a JS number into the (hi, lo) pair the kernels take as two f32 parameters.
 */

/** (hi, lo) with hi = fround(x), lo = fround(x - hi): x to ~48 bits. */
export function splitF64(x: number): [number, number] {
  const hi = Math.fround(x);
  return [hi, Math.fround(x - hi)];
}

export const DF64_WGSL = /* wgsl */ `
fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ P.opaque_zero);
}
fn two_sum(a: f32, b: f32) -> vec2<f32> {
  let s = opaque(a + b);
  let bb = opaque(s - a);
  return vec2<f32>(s, (a - opaque(s - bb)) + (b - bb));
}
fn quick_two_sum(a: f32, b: f32) -> vec2<f32> {
  let s = opaque(a + b);
  return vec2<f32>(s, b - opaque(s - a));
}
fn split_f32(a: f32) -> vec2<f32> {
  let hi = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  return vec2<f32>(hi, a - hi);
}
/** a * b exactly, as (rounded product, error). */
fn two_prod(a: f32, b: f32) -> vec2<f32> {
  let p = opaque(a * b);
  let x = split_f32(a);
  let y = split_f32(b);
  return vec2<f32>(p, ((x.x * y.x - p) + x.x * y.y + x.y * y.x) + x.y * y.y);
}
fn df_add(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let s = two_sum(a.x, b.x);
  let t = two_sum(a.y, b.y);
  let h = quick_two_sum(s.x, s.y + t.x);
  return quick_two_sum(h.x, h.y + t.y);
}
fn df_mul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let p = two_prod(a.x, b.x);
  return quick_two_sum(p.x, p.y + (a.x * b.y + a.y * b.x));
}
/** a (df64) * b (f32). */
fn df_mul_f(a: vec2<f32>, b: f32) -> vec2<f32> {
  let p = two_prod(a.x, b);
  return quick_two_sum(p.x, p.y + a.y * b);
}
fn df_neg(a: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(-a.x, -a.y);
}
fn df_sub(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  return df_add(a, df_neg(b));
}
/** √a, one Newton correction on the f32 root. */
fn df_sqrt(a: vec2<f32>) -> vec2<f32> {
  if (a.x <= 0.0) { return vec2<f32>(0.0, 0.0); }
  let s = sqrt(a.x);
  let p = two_prod(s, s);
  return quick_two_sum(s, (((a.x - p.x) - p.y) + a.y) / (2.0 * s));
}
/** 1 / a, one Newton correction on the f32 reciprocal. */
fn df_recip(a: vec2<f32>) -> vec2<f32> {
  let q = 1.0 / a.x;
  let p = two_prod(q, a.x);
  return quick_two_sum(q, q * (((1.0 - p.x) - p.y) - q * a.y));
}
/** Rounds to the nearest f32 (hi is already that after a normalising step; this also folds an unnormalised lo). */
fn df_round(a: vec2<f32>) -> f32 {
  return a.x + a.y;
}
`;
