/**
 * Model families: how a serialisable description of a model (an ArchSpec: family name + plain-data config) becomes a
 * Model (a chain of Layers). Everything above nn/ — the partitioner, the plan cache, the device workers, the job's
 * checkpoints — holds an ArchSpec or the Model built from it, never a family's own config type.
 *
 * Why a registry and not a `() => Model` callback: device workers are separate threads and rebuild every model they
 * run; a function cannot cross a thread, a family name and its config can. Built-in families (GPT-2, Llama, …) are
 * listed in src/nn/families.ts (the registry) and so known in every thread. A user's own family lives in an ES module
 * that calls `registerFamily(family, import.meta.url)`: the module's URL travels with the spec, and a worker that does
 * not know the family imports that module first (which registers it there too).
 *
 * This file holds only the two types (families import it; the registry imports the families).
 */
import type { Model } from './model.js';

/** A model family: named presets, a config checker, and the builder of the layer chain. */
export interface ModelFamily<C extends object = object> {
  /** The name an ArchSpec refers to, e.g. 'gpt2', 'llama'. */
  readonly name: string;
  /** Named shapes (partial configs completed by `resolve`), e.g. { 'gpt2-mini': { n_layer: 4, … } }. */
  readonly presets: Readonly<Record<string, Partial<C>>>;
  /**
   * A complete, checked config from plain fields: `preset` (optional, one of `presets`) overridden by the other
   * fields, the family's defaults filling the rest. Unknown fields and bad values are errors naming `${field}.<key>`,
   * the value and what is accepted. A config `resolve` returned resolves to itself (it is also the API's validator).
   */
  resolve(fields: Readonly<Record<string, unknown>>, field?: string): C;
  /** The layer chain. Must be deterministic: every thread builds the same chain from the same config. */
  build(config: C): Model;
  /** One line naming the shape for listings, e.g. 'gpt2(n_layer=4,n_head=4,…)'. */
  describe(config: C): string;
}

/** A model as plain data: what train() takes and what crosses to device workers and into checkpoints. */
export interface ArchSpec {
  family: string;
  /** The family's config (plain, structured-cloneable data). */
  config: object;
  /**
   * URL of the ES module that registers the family (a user's own family); filled in from the registry when the
   * family was registered with one, so callers need not repeat it.
   */
  module?: string;
}
