/**
 * The Llama kernels of the js backend (the oracle), as plain loops over arrays: RMSNorm, the rotary embedding fused
 * with the head split, SwiGLU. Arithmetic in float64, rounded once where the result is stored, like the rest of js.
 * Semantics are documented on the Backend interface (backend.ts).
 */
type F = Float32Array | Float64Array;

export function rmsnormForward(out: F, rstd: F, x: F, w: F, N: number, C: number, eps: number): void {
  for (let r = 0; r < N; r++) {
    const off = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[off + c] * x[off + c];
    const s = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[off + c] = x[off + c] * s * w[c];
    rstd[r] = s;
  }
}

export function rmsnormBackward(dx: F, dw: F, dout: F, x: F, w: F, rstd: F, N: number, C: number): void {
  const dwAcc = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const off = r * C;
    const s = rstd[r];
    let dot = 0;
    for (let c = 0; c < C; c++) dot += w[c] * dout[off + c] * (x[off + c] * s);
    dot /= C;
    for (let c = 0; c < C; c++) {
      const norm = x[off + c] * s;
      dwAcc[c] += norm * dout[off + c];
      dx[off + c] += (w[c] * dout[off + c] - norm * dot) * s;
    }
  }
  for (let c = 0; c < C; c++) dw[c] += dwAcc[c];
}

/** Calls fn(headRow, xRow, t) for every (b, h, t): headRow indexes (B,NH,T,hs), xRow the head's slice of (B,T,NH*hs). */
function forHeadRows(B: number, T: number, NH: number, hs: number, fn: (head: number, x: number, t: number) => void): void {
  for (let b = 0; b < B; b++)
    for (let h = 0; h < NH; h++)
      for (let t = 0; t < T; t++) fn(((b * NH + h) * T + t) * hs, (b * T + t) * NH * hs + h * hs, t);
}

export function ropeForward(out: F, x: F, cs: F, B: number, T: number, NH: number, hs: number): void {
  const half = hs / 2;
  forHeadRows(B, T, NH, hs, (o, xi, t) => {
    for (let i = 0; i < half; i++) {
      const c = cs[t * half + i], s = cs[(T + t) * half + i];
      const x1 = x[xi + i], x2 = x[xi + half + i];
      out[o + i] = x1 * c - x2 * s;
      out[o + half + i] = x2 * c + x1 * s;
    }
  });
}

export function ropeBackward(dx: F, dout: F, cs: F, B: number, T: number, NH: number, hs: number): void {
  const half = hs / 2;
  forHeadRows(B, T, NH, hs, (o, xi, t) => {
    for (let i = 0; i < half; i++) {
      const c = cs[t * half + i], s = cs[(T + t) * half + i];
      const d1 = dout[o + i], d2 = dout[o + half + i];
      dx[xi + i] += d1 * c + d2 * s;
      dx[xi + half + i] += d2 * c - d1 * s;
    }
  });
}

export function swigluForward(out: F, gate: F, up: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

export function swigluBackward(dgate: F, dup: F, gate: F, up: F, dout: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sig = 1 / (1 + Math.exp(-g));
    const d = dout[i];
    dgate[i] += d * up[i] * sig * (1 + g * (1 - sig));
    dup[i] += d * g * sig;
  }
}
