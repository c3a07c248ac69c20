/**
 * The registry of model families (see family.ts): the built-in ones, known in every thread, plus those a user
 * registers. A new built-in family is one line in BUILTIN.
 */
import { gpt2Family } from './gpt2.js';
import { llamaFamily } from './llama.js';
import type { ArchSpec, ModelFamily } from './family.js';
import type { Model } from './model.js';

const BUILTIN: ModelFamily[] = [gpt2Family, llamaFamily];

interface Entry {
  family: ModelFamily;
  module?: string;
}

const registry = new Map<string, Entry>(BUILTIN.map((family) => [family.name, { family }]));

/**
 * Make a family known in this thread. `module`: the URL of the module doing the registration (pass
 * `import.meta.url`) — needed for families that are not built in, so that device workers can load them.
 */
export function registerFamily<C extends object>(family: ModelFamily<C>, module?: string): void {
  const have = registry.get(family.name);
  if (have && have.family !== family) {
    throw new Error(`model family '${family.name}' is already registered${have.module ? ` (by ${have.module})` : ''}; choose another name`);
  }
  registry.set(family.name, { family, module: module ?? have?.module });
}

export function familyNames(): string[] {
  return [...registry.keys()];
}

/** The registered family, or an error naming the known ones. */
export function getFamily(name: string, field = 'model.family'): ModelFamily {
  const e = registry.get(name);
  if (!e) throw new RangeError(`${field}: unknown model family '${name}' (known: ${familyNames().join(', ')}; a family of your own is registered with registerFamily(family, import.meta.url))`);
  return e.family;
}

/** The family of a spec, importing the spec's module first when the family is not known in this thread yet. */
export async function loadFamily(spec: ArchSpec, field = 'model'): Promise<ModelFamily> {
  if (!registry.has(spec.family) && spec.module) {
    await import(spec.module);
    if (!registry.has(spec.family)) throw new RangeError(`${field}.module: importing ${spec.module} did not register model family '${spec.family}'`);
  }
  return getFamily(spec.family, `${field}.family`);
}

/**
 * A spec checked and completed (the family's defaults filled in, its module URL attached): the form the job
 * stores, sends to workers and compares against checkpoints.
 */
export function resolveArch(spec: ArchSpec, field = 'model'): ArchSpec {
  if (!spec || typeof spec !== 'object' || typeof spec.family !== 'string') {
    throw new RangeError(`${field}: expected { family: string, config: {...} } (e.g. { family: 'gpt2', config: gpt2Config('gpt2-tiny') }), got ${JSON.stringify(spec)}`);
  }
  const family = getFamily(spec.family, `${field}.family`);
  if (!spec.config || typeof spec.config !== 'object') throw new RangeError(`${field}.config: expected the ${spec.family} family's config object, got ${JSON.stringify(spec.config)}`);
  const config = family.resolve(spec.config as Record<string, unknown>, `${field}.config`);
  const module = spec.module ?? registry.get(spec.family)?.module;
  return { family: spec.family, config, ...(module ? { module } : {}) };
}

/** Build the model a spec describes (its family must be known in this thread: see loadFamily). */
export function buildArch(spec: ArchSpec): Model {
  const family = getFamily(spec.family);
  return family.build(spec.config);
}

/** The spec's one-line description. */
export function describeArch(spec: ArchSpec): string {
  return getFamily(spec.family).describe(spec.config);
}
