/** A tensor in host memory (the host tier). `data` may be a view on a SharedArrayBuffer shared with workers. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Weights read on demand (e.g. from safetensors files: hfGpt2Weights, hfLlamaWeights): `read` asks `into(name,
 * elements)` for the array each tensor goes to and fills it, so a model's weights land in its host-tier arrays with
 * no copy in between. It is read once per model that uses it (a grid sharing one checkpoint reads the files once
 * per model, from the page cache after the first).
 */
export interface WeightSource {
  /** Where the weights come from, for messages (e.g. the directory). */
  describe: string;
  read(into: (name: string, elements: number) => Float32Array): Promise<void>;
  /**
   * The tensors (names as `read` gives them, headers checked) read in pieces on demand: a model whose state is on
   * disk is initialised piece by piece, never holding its weights whole in memory (io/streamed-tensor.ts's
   * StreamedTensor: read fills elements [offset, offset + dst.length)).
   */
  stream?(): Promise<Map<string, { shape: number[]; read(dst: Float32Array, offset: number): Promise<void> }>>;
}
