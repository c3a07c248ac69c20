/** A tensor in host memory (the host tier). `data` may be a view on a SharedArrayBuffer shared with workers. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
