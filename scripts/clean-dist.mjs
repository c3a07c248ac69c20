// `npm test` starts from an empty dist/: tsc never deletes outputs, so a test (or module) removed from the sources
// would otherwise keep running from its stale compiled copy.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
