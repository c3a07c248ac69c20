/**
 * Counter-based randomness: every random number is a pure function of (seed, purpose, step, layer, index). Nothing
 * is carried between calls, so a recomputed forward pass redraws exactly the same dropout mask and results never
 * depend on the order in which a scheduler ran tasks.
 *
 * The mixer is Chris Wellons' "lowbias32" integer hash applied in a chain; it needs only 32-bit multiplies and
 * shifts, so C++ (uint32_t) and WGSL (u32) compute identical bits. Every backend must implement `uniform` exactly as
 * written here (the conformance suite compares masks bit for bit).
 */
import type { RngKey } from './backend.js';

/** lowbias32: a 32-bit integer finaliser with good avalanche. Input/output uint32. */
export function mix32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-key prefix; kernels compute it once per launch and then call `hashAt` per element. */
export function keyPrefix(key: RngKey): number {
  let h = mix32(key.seed ^ 0x9e3779b9);
  h = mix32(h ^ key.purpose);
  h = mix32(h ^ key.step);
  h = mix32(h ^ key.layer);
  return h;
}

/** uint32 hash of element `index` under a key prefix. */
export function hashAt(prefix: number, index: number): number {
  return mix32(mix32(prefix ^ index) + 0x6a09e667);
}

/** Uniform in [0, 1) with 24 bits, exactly representable in float32. */
export function uniformAt(prefix: number, index: number): number {
  return (hashAt(prefix, index) >>> 8) * (1 / 16777216);
}

/** Keep/drop decision shared by every backend's dropout. */
export function dropoutKeep(prefix: number, index: number, p: number): boolean {
  return uniformAt(prefix, index) >= Math.fround(p);
}

/**
 * Standard normal from two uniforms (Box-Muller), used for initialisation on the host. The uniforms come from
 * indices 2i and 2i+1 so every element has its own pair. (1 - u) avoids log(0).
 */
export function normalAt(prefix: number, index: number): number {
  const u1 = 1 - uniformAt(prefix, 2 * index);
  const u2 = uniformAt(prefix, 2 * index + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Stable 32-bit hash of a string (FNV-1a then mixed), to turn names like parameter names into key words. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mix32(h);
}
