/**
 * Global-norm gradient clipping. The norm is summed exactly and reproducibly: each parameter's squared norm is a
 * deterministic kernel result, and the per-parameter values are added in the model's canonical parameter order in
 * float64 — however the model is sharded and whichever device computed each part.
 */

/** sqrt(sum of per-parameter squared norms), added in the given (canonical) order. */
export function globalNorm(sumSquaresInCanonicalOrder: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < sumSquaresInCanonicalOrder.length; i++) s += sumSquaresInCanonicalOrder[i];
  return Math.sqrt(s);
}

/** Multiplier for the gradients, as torch.nn.utils.clip_grad_norm_: min(1, max / (norm + 1e-6)). 0 = no clipping. */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}
