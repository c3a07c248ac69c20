/**
 * Half-precision decoding to float32. Both are exact: every f16 and bf16 value is representable in f32.
 *   f16:  1 sign, 5 exponent (bias 15), 10 mantissa bits; exponent 0 = zero/subnormal, 31 = inf/NaN.
 *   bf16: the top 16 bits of an f32.
 */

/** f32 value of an IEEE binary16 bit pattern. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero or subnormal: mant * 2^-14 * 2^-10
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decode `count` little-endian f16 values from `bytes` into `out`. */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
}

/** Decode little-endian bf16 values: each is the high half of an f32 bit pattern, so shift into place. */
export function decodeBF16(bytes: Uint8Array, out: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
}
