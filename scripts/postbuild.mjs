// The `hydra` bin is dist/src/cli/main.js, written by tsc without the executable bit; npm links bins before
// `prepare` builds them, so `npx hydra` on a fresh clone would find a file it may not run. Set the bit here.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
