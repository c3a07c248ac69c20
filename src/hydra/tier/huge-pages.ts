/**
 * Transparent huge pages for the host tier's arrays. A SharedArrayBuffer is fresh zero pages from mmap, first touched
 * by the weight initialisation, the gradient copy-out and the first optimizer step; at 4 KiB pages a 58 MB optimizer
 * state is 14k page faults (~15 µs each in a VM), at 2 MiB 28. The device buffers already get huge pages
 * (native/buffers.cc); without this the host tier paid a first-touch cost a resident trainer does not.
 */
import { optionalCpuAddon } from '../../backend/native-loader.js';

/** Arrays smaller than this are left alone: they hold at most one whole huge page. */
export const HUGE_PAGE_MIN_BYTES = 4 << 20;

/** Asks for huge pages on the whole 2 MiB pages inside `buffer` (call before its first touch); bytes covered, 0 without the addon. */
export function adviseHugePages(buffer: SharedArrayBuffer): number {
  if (buffer.byteLength < HUGE_PAGE_MIN_BYTES) return 0;
  // Without the native addon (js backend only): plain pages, same contents.
  return optionalCpuAddon()?.adviseHugePages(new Uint8Array(buffer)) ?? 0;
}
