/** A typed array with room for at least `length` entries, the new ones set to `fill` (models added to a running job). */
export function grown<A extends Int32Array | Uint8Array>(a: A, length: number, fill: number): A {
  if (length <= a.length) return a;
  const out = new (a.constructor as new (n: number) => A)(Math.max(length, 2 * a.length));
  out.fill(fill);
  out.set(a);
  return out;
}
