/**
 * The orchestrator's view of the scheduler. TEMPORARY minimal implementation (sharded-LRTF only) so the engine can
 * run end to end; it is replaced by an adapter over src/hydra/scheduler/ (all policies) when that lands.
 */
import type { PolicyName, TaskKind } from './api.js';

export interface SchedTask {
  modelId: string;
  kind: TaskKind;
  shard: number;
  /** Global training step the task belongs to (for E tasks: the step after which the eval runs). */
  minibatch: number;
  evalBatch?: number;
}

export interface SchedModel {
  id: string;
  shards: { forward: number; backward: number; paramBytes: number }[];
  minibatches: number;
  evalAfter: number[];
  evalBatches: number;
}

export interface JobScheduler {
  assign(device: number, now: number): SchedTask | null;
  peek(device: number): SchedTask | null;
  complete(task: SchedTask, seconds: number, now: number): void;
  fail(modelId: string): void;
  modelDone(modelId: string): boolean;
  isDone(): boolean;
}

function* sequence(m: SchedModel): Generator<SchedTask> {
  const n = m.shards.length;
  const evalAfter = new Set(m.evalAfter);
  for (let s = 0; s < m.minibatches; s++) {
    for (let k = 0; k < n - 1; k++) yield { modelId: m.id, kind: 'F', shard: k, minibatch: s };
    yield { modelId: m.id, kind: 'FL', shard: n - 1, minibatch: s };
    for (let k = n - 2; k >= 0; k--) yield { modelId: m.id, kind: 'B', shard: k, minibatch: s };
    if (evalAfter.has(s)) for (let e = 0; e < m.evalBatches; e++) for (let k = 0; k < n; k++) yield { modelId: m.id, kind: 'E', shard: k, minibatch: s, evalBatch: e };
  }
}

export function createJobScheduler(models: SchedModel[], _devices: number, _policy: PolicyName, _seed: number): JobScheduler {
  const state = models.map((m) => {
    const it = sequence(m);
    const first = it.next();
    const perStep = m.shards.reduce((a, s) => a + 2 * s.forward + s.backward, 0);
    return { m, it, next: first.done ? null : first.value, busy: false, failed: false, remaining: perStep * m.minibatches, perTask: perStep / Math.max(1, 2 * m.shards.length - 1) };
  });
  const byId = new Map(state.map((s) => [s.m.id, s]));
  const ready = () => state.filter((s) => s.next && !s.busy);
  const pick = () => ready().sort((a, b) => b.remaining - a.remaining)[0];
  return {
    assign() {
      const s = pick();
      if (!s) return null;
      s.busy = true;
      return s.next;
    },
    peek() {
      const s = pick();
      return s ? s.next : null;
    },
    complete(task) {
      const s = byId.get(task.modelId)!;
      s.busy = false;
      if (s.failed) return;
      s.remaining = Math.max(0, s.remaining - s.perTask);
      const n = s.it.next();
      s.next = n.done ? null : n.value;
    },
    fail(id) {
      const s = byId.get(id)!;
      s.failed = true;
      s.next = null;
    },
    modelDone: (id) => byId.get(id)!.next === null && !byId.get(id)!.busy,
    isDone: () => state.every((s) => s.next === null && !s.busy),
  };
}
