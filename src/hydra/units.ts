/** Byte sizes: parse '512MiB' / '2GiB' / '500MB' / plain numbers, and format for humans. */

const UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};

export function parseBytes(v: number | string, field = 'size'): number {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v > 0) return Math.floor(v);
    throw new RangeError(`${field}: expected a positive number of bytes, got ${v}`);
  }
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2].toLowerCase() || 'b'] : undefined;
  if (!m || unit === undefined || !(Number(m[1]) > 0)) {
    throw new RangeError(`${field}: expected a size like 512MiB, 2GiB, 500MB or a byte count, got '${v}'`);
  }
  return Math.floor(Number(m[1]) * unit);
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
