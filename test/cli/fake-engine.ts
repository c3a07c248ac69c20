/**
 * A stand-in for the Hydra engine: walks every task's steps in order, emitting the events the real engine emits
 * (plan, host-alloc, task-start/end, step, eval, model-end) and returning a JobResult. Models whose lr is >= 1
 * "diverge". With early stopping configured, every model meets one rung after FAKE_RUNG steps: those with lr >= 1e-2
 * stop there (stopped-early, their host tier released), the others continue.
 */
import type { HydraEvent, JobResult, ModelResult, PartitionPlan, TrainOptions, TrainTask } from '../../src/hydra/api.js';

export interface FakeCall {
  tasks: TrainTask[];
  options: TrainOptions;
  /** Events emitted, in order. */
  events: HydraEvent[];
}

export const FAKE_RUNG = 3;
const FAKE_STATE_BYTES = 1000;

export function fakeTrain(calls: FakeCall[] = []) {
  return async (tasks: TrainTask[], options: TrainOptions): Promise<JobResult> => {
    const call: FakeCall = { tasks, options, events: [] };
    calls.push(call);
    let t = 0;
    const emit = (e: HydraEvent) => {
      call.events.push(e);
      options.onEvent?.(e);
    };
    const models: ModelResult[] = [];
    const rungs = options.earlyStopping !== undefined && options.earlyStopping.kind !== 'none';
    let hostInUse = 0;
    for (const task of tasks) {
      const plan: PartitionPlan = {
        key: `plan-B${task.train.B}`, arch: 'fake', backend: 'fake', B: task.train.B, T: task.train.T, budget: 1 << 26, reserve: 0,
        shards: [{ from: 0, to: 1, layerNames: ['embed'], paramBytes: 10, inputBytes: 1, peakBytes: { forward: 1, train: 2 }, seconds: { forward: 0, backward: 0 } }],
      };
      emit({ type: 'plan', model: task.name, plan, reused: false });
      hostInUse += FAKE_STATE_BYTES;
      emit({ type: 'host-alloc', t, model: task.name, bytes: FAKE_STATE_BYTES, inUse: hostInUse });
      const total = task.steps ?? (task.epochs ?? 1) * task.train.stepsPerEpoch;
      const result: ModelResult = { name: task.name, hparams: task.hparams ?? {}, status: 'done', losses: [], evals: [], steps: 0, wallSeconds: 0, deviceSeconds: 0, plan, weights: new Map() };
      for (let s = 0; s < total; s++) {
        const spe = task.train.stepsPerEpoch;
        const b = task.train.batch(Math.floor(s / spe), s % spe); // exercise the real data path
        if (b.tokens.length !== task.train.B * task.train.T) throw new Error('bad batch shape');
        emit({ type: 'task-start', t, device: s % 2, model: task.name, kind: 'FL', shard: 0, step: s });
        t += 0.5;
        emit({ type: 'task-end', t, device: s % 2, model: task.name, kind: 'FL', shard: 0, step: s, computeSeconds: 0.5, bytesIn: 100, bytesOut: 50, prefetchedBytes: 0, overlapSeconds: 0 });
        result.deviceSeconds += 0.5;
        const loss = task.optimizer.lr >= 1 ? NaN : 10 - s * task.optimizer.lr * 100;
        result.losses.push(loss);
        if (!Number.isFinite(loss)) {
          result.status = 'diverged';
          result.reason = `loss became NaN at step ${s}`;
          break;
        }
        result.steps = s + 1;
        emit({ type: 'step', t, model: task.name, step: s, epoch: Math.floor(s / spe), loss, gradNorm: 1, lr: task.optimizer.lr });
        if (rungs && result.steps === FAKE_RUNG && FAKE_RUNG < total) {
          const stop = task.optimizer.lr >= 1e-2;
          emit({ type: 'rung', t, model: task.name, step: FAKE_RUNG, action: stop ? 'stop' : 'continue', horizon: stop ? FAKE_RUNG : total });
          if (stop) {
            result.status = 'stopped-early';
            result.reason = `stopped early at rung 0 (step ${FAKE_RUNG})`;
            hostInUse -= FAKE_STATE_BYTES;
            emit({ type: 'host-release', t, model: task.name, bytes: FAKE_STATE_BYTES, inUse: hostInUse });
            break;
          }
        }
      }
      if (result.status === 'done' && task.eval) {
        const loss = result.losses[result.losses.length - 1] + 0.5;
        result.evals.push({ epoch: 0, loss, perplexity: Math.exp(loss) });
        emit({ type: 'eval', t, model: task.name, epoch: 0, loss, perplexity: Math.exp(loss), tokens: task.eval.stepsPerEpoch * task.eval.B * task.eval.T });
      }
      emit({ type: 'model-end', t, model: task.name, status: result.status, reason: result.reason });
      result.wallSeconds = t;
      result.weights.set('wte.weight', { shape: [1], data: new Float32Array([1]) });
      models.push(result);
    }
    return {
      models,
      makespanSeconds: t,
      devices: [0, 1].map((id) => ({ id, busySeconds: t / 2, utilisation: 0.5, highWater: 1000, budget: 1 << 26 })),
      policy: options.policy ?? 'sharded-lrtf',
      bytesMoved: 1234,
      prefetch: { copiedBytes: 0, usedBytes: 0, droppedBytes: 0, failures: 0 },
      overlapSeconds: 0,
    };
  };
}
