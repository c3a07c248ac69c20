/**
 * A model: a chain of layers plus the list of every parameter in a canonical order (the order used for
 * global-norm sums, checkpoints and optimizer state, independent of how the chain is cut into shards).
 */
import type { Layer, ParamSpec } from './layer.js';

export interface Model {
  /** What the architecture is (for plan keys and messages), e.g. 'gpt2(n_layer=4,...)'. */
  readonly arch: string;
  readonly layers: Layer[];
  /** Every parameter once, in chain order of first use. */
  readonly params: ParamSpec[];
  /** Vocabulary size of the output (the loss's V). */
  readonly vocab: number;
  /** Longest sequence the model accepts. */
  readonly nCtx: number;
}

export function collectParams(layers: Layer[]): ParamSpec[] {
  const seen = new Map<string, ParamSpec>();
  for (const l of layers) {
    for (const p of l.ownParams) {
      if (seen.has(p.name)) throw new Error(`parameter '${p.name}' is declared by two layers (declare once, share by name)`);
      seen.set(p.name, p);
    }
  }
  for (const l of layers) {
    for (const u of l.uses) if (!seen.has(u)) throw new Error(`layer '${l.name}' uses parameter '${u}' that no layer declares`);
  }
  return [...seen.values()];
}

export function paramCount(model: Model): number {
  return model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}
