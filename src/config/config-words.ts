/**
 * The library names what is wrong in its own API's words (`deviceMemory`, `task.train.B`); a user of the `hydra`
 * command wrote a YAML config, so the CLI shows the same message in the config's words (`device_memory`,
 * `batch_size`). One table, here, between the two.
 */
const API_TO_CONFIG: readonly [RegExp, string][] = [
  [/\bdeviceMemory\b/g, 'device_memory'],
  [/\bhostMemory\b/g, 'host_memory'],
  [/\bspillDir\b/g, 'spill_dir'],
  [/\bcheckpointEvery\b/g, 'checkpoint_every'],
  [/\bearlyStopping\b/g, 'early_stopping'],
  [/\bbatch \(task\.train\.B\)/g, 'batch_size'],
  [/\bsequence length \(task\.train\.T\)/g, 'block_size'],
  [/\btask\.train\.B\b/g, 'batch_size'],
  [/\btask\.train\.T\b/g, 'block_size'],
];

/** A library message in the config's words. */
export function inConfigWords(message: string): string {
  return API_TO_CONFIG.reduce((m, [api, key]) => m.replace(api, key), message);
}
