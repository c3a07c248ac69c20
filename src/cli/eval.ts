/**
 * `hydra eval --model DIR --data FILE [--n-ctx N] [--batch B]`: loss and perplexity of a Hugging Face checkpoint (GPT-2
 * or Llama, told apart by config.json's model_type) on held-out text, tokenized by the checkpoint's own
 * tokenizer.json when it has one (else GPT-2's BPE for a GPT-2-sized vocabulary); it says which tokenizer it used.
 */
import type { Command } from 'commander';
import { createBackendOrFallback, type BackendKind } from '../backend/index.js';
import { loadTokenStream, BlockDataset } from '../data/text-dataset.js';
import { checkpointTokenizer } from '../data/hf-tokenizer.js';
import { loadHfGpt2 } from '../io/hf-gpt2.js';
import { isHfLlamaDir, loadHfLlama } from '../io/hf-llama.js';
import { firstNonFinite, type HostTensor } from '../io/host-tensor.js';
import { buildGpt2, describeGpt2 } from '../nn/gpt2.js';
import { buildLlama } from '../nn/llama.js';
import { describeLlama } from '../nn/llama-config.js';
import { evaluate, type EvalBatch } from '../nn/evaluate.js';

/** The default block length's ceiling (see the --n-ctx default below). */
const DEFAULT_MAX_N_CTX = 1024;
import type { Model } from '../nn/model.js';

interface EvalOptions {
  model: string;
  data: string;
  nCtx?: string;
  batch: string;
  device: string;
  threads: string;
  maxBatches?: string;
  format: string;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${flag}: expected a positive integer, got '${v}'`);
  return n;
}

interface Checkpoint {
  model: Model;
  tensors: Map<string, HostTensor>;
  description: string;
  notes: string[];
}

async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  if (isHfLlamaDir(dir)) {
    const { config, tensors } = await loadHfLlama(dir);
    return { model: buildLlama(config), tensors, description: describeLlama(config), notes: [] };
  }
  const { config, tensors, warnings } = await loadHfGpt2(dir);
  return { model: buildGpt2({ ...config, dropout: 0 }), tensors, description: describeGpt2(config), notes: warnings };
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('loss and perplexity of a GPT-2 or Llama (Hugging Face layout directory) on a text file')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors or a sharded index; tokenizer.json if any)')
    .requiredOption('--data <file>', 'text file (plain text or WikiText format)')
    .option('--n-ctx <n>', `tokens per block (default: the model's n_ctx, at most ${DEFAULT_MAX_N_CTX})`)
    .option('--batch <n>', 'blocks per batch', '8')
    .option('--device <kind>', 'backend: cpu, js or webgpu', 'cpu')
    .option('--threads <n>', 'threads of the cpu backend', '1')
    .option('--max-batches <n>', 'evaluate only the first N batches')
    .option('--format <f>', 'auto, text or wikitext', 'auto')
    .action(async (o: EvalOptions) => {
      const ckpt = await loadCheckpoint(o.model);
      for (const w of ckpt.notes) console.log(`note: ${w}`);
      // Default at most 1024 tokens a block: a Llama's n_ctx (SmolLM2 8192, Llama 3.2 131072) would make attention
      // scores of batch·heads·n_ctx² floats (tens of GB at 8192); longer blocks are asked for with --n-ctx.
      const nCtx = o.nCtx ? positiveInt(o.nCtx, '--n-ctx') : Math.min(ckpt.model.nCtx, DEFAULT_MAX_N_CTX);
      if (nCtx > ckpt.model.nCtx) throw new RangeError(`--n-ctx ${nCtx} exceeds the model's n_ctx ${ckpt.model.nCtx}`);
      // A diverged model's weights would evaluate to 'loss NaN' and look like a result: refuse them, naming where.
      const bad = firstNonFinite(new Map(ckpt.model.params.map((p) => [p.name, ckpt.tensors.get(p.name)!])));
      if (bad) throw new Error(`${o.model}: tensor '${bad.name}' holds ${bad.value} at element ${bad.index}; the weights are not finite (a diverged model?), refusing to evaluate`);
      const B = positiveInt(o.batch, '--batch');
      if (!['auto', 'text', 'wikitext'].includes(o.format)) throw new RangeError(`--format: expected auto, text or wikitext, got '${o.format}'`);
      const { tokenizer, description } = checkpointTokenizer(o.model, ckpt.model.vocab);
      console.log(`tokenizer: ${description}`);
      const stream = loadTokenStream(o.data, { format: o.format as 'auto', tokenizer });
      console.log(
        `tokens: ${stream.tokens.length} (${stream.format}) ` +
          (stream.cached ? `loaded from cache in ${stream.seconds.toFixed(3)} s, no tokenizing` : `tokenized in ${stream.seconds.toFixed(2)} s (cached for next time)`),
      );
      const data = new BlockDataset(stream.tokens, nCtx, `data file ${stream.path}`, stream);
      const maxBatches = o.maxBatches ? positiveInt(o.maxBatches, '--max-batches') : Infinity;
      const numBatches = Math.min(maxBatches, Math.ceil(data.numBlocks / B));
      function* batches(): Generator<EvalBatch> {
        for (let b = 0; b < numBatches; b++) {
          const rows = Math.min(B, data.numBlocks - b * B);
          const tokens = new Int32Array(rows * nCtx), targets = new Int32Array(rows * nCtx);
          for (let r = 0; r < rows; r++) data.fillBlock(b * B + r, tokens, targets, r * nCtx);
          yield { tokens, targets, B: rows, T: nCtx };
        }
      }
      const kind = o.device as BackendKind;
      const be = await createBackendOrFallback(kind, { threads: positiveInt(o.threads, '--threads') });
      try {
        console.log(`model: ${ckpt.description} on ${be.name}; ${data.numBlocks} blocks of ${nCtx}, ${numBatches} batches of up to ${B}`);
        const t0 = performance.now();
        const r = await evaluate(be, ckpt.model, ckpt.tensors, batches());
        const s = (performance.now() - t0) / 1000;
        if (!Number.isFinite(r.loss)) throw new Error(`${o.model}: the loss on ${o.data} is ${r.loss} (over ${r.tokens} tokens) although every weight is finite; the model overflows on this data`);
        console.log(`eval: tokens ${r.tokens}, loss ${r.loss.toFixed(6)}, perplexity ${r.perplexity.toFixed(2)} (${s.toFixed(1)} s, ${(r.tokens / s).toFixed(0)} tokens/s)`);
      } finally {
        be.dispose();
      }
    });
}
