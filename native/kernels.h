// The backend's kernels as plain functions over raw pointers (no Node-API here; device-kernels.cc binds them).
// Semantics are those of src/backend/backend.ts, checked against src/backend/js.ts by the conformance suite.
// Where js accumulates in float64 in a fixed order, the kernels below do the same arithmetic in the same order
// (so they match js bit for bit); the others (exp-based: gelu, softmax, cross-entropy) use vectorised float math.
// Every split over threads is static, so results depend only on the inputs and the thread count; the reductions
// that cross rows (biasBackward, layernorm dw/db, embedding scatter, sumSquares) are split so that even the thread
// count does not matter.
#pragma once

#include <cstdint>

#include "thread-pool.h"

namespace hydra {

// ---- elementwise / utility (kernels-elementwise.cc) ----
void fill_f32(ThreadPool& pool, float* x, int64_t n, float value);
void fill_i32(ThreadPool& pool, int32_t* x, int64_t n, int32_t value);
// memmove semantics: dst and src may overlap.
void copy_elements(ThreadPool& pool, void* dst, const void* src, int64_t n);
void scale(ThreadPool& pool, float* x, int64_t n, double alpha);
void add(ThreadPool& pool, float* out, const float* a, const float* b, int64_t n);
void axpy(ThreadPool& pool, float* y, const float* x, double alpha, int64_t n);
// sum(x^2) in float64 over fixed 4096-element blocks, block sums added in order; rounded to float.
float sum_squares(ThreadPool& pool, const float* x, int64_t n);
void add_bias(ThreadPool& pool, float* out, const float* bias, int64_t rows, int64_t cols);
void bias_backward(ThreadPool& pool, float* dbias, const float* dout, int64_t rows, int64_t cols);

// ---- embedding (kernels-embedding.cc); tokens are validated by the caller ----
void embedding_forward(ThreadPool& pool, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       int64_t B, int64_t T, int64_t C);
void embedding_backward(ThreadPool& pool, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        int64_t B, int64_t T, int64_t C);

// ---- layernorm (kernels-layernorm.cc) ----
void layernorm_forward(ThreadPool& pool, float* out, float* mean, float* rstd, const float* x, const float* w,
                       const float* b, int64_t N, int64_t C);
void layernorm_backward(ThreadPool& pool, float* dx, float* dw, float* db, const float* dout, const float* x,
                        const float* w, const float* mean, const float* rstd, int64_t N, int64_t C);

// ---- activations and dropout (kernels-activation.cc) ----
void gelu_forward(ThreadPool& pool, float* out, const float* x, int64_t n);
void gelu_backward(ThreadPool& pool, float* dx, const float* x, const float* dout, int64_t n);
// key_prefix is rng.ts keyPrefix(key); p is fround(p); scale is fround(1 / (1 - p)).
void dropout_forward(ThreadPool& pool, float* out, const float* x, int64_t n, float p, float scale,
                     uint32_t key_prefix);
void dropout_backward(ThreadPool& pool, float* dx, const float* dout, int64_t n, float p, float scale,
                      uint32_t key_prefix);

// ---- attention (kernels-attention.cc) ----
void split_heads(ThreadPool& pool, float* q, float* k, float* v, const float* qkv, int64_t B, int64_t T,
                 int64_t NH, int64_t hs);
void split_heads_backward(ThreadPool& pool, float* dqkv, const float* dq, const float* dk, const float* dv,
                          int64_t B, int64_t T, int64_t NH, int64_t hs);
void merge_heads(ThreadPool& pool, float* out, const float* y, int64_t B, int64_t T, int64_t NH, int64_t hs);
void merge_heads_backward(ThreadPool& pool, float* dy, const float* dout, int64_t B, int64_t T, int64_t NH,
                          int64_t hs);
void causal_softmax_forward(ThreadPool& pool, float* att, int64_t rows, int64_t T, double scale);
void causal_softmax_backward(ThreadPool& pool, float* datt, const float* att, int64_t rows, int64_t T,
                             double scale);

// ---- loss (kernels-loss.cc); targets are validated by the caller (t < V; t < 0 means ignore) ----
void cross_entropy_forward(ThreadPool& pool, float* losses, float* lse, const float* logits, const int32_t* targets,
                           int64_t N, int64_t V);
// dlogits may alias logits.
void cross_entropy_backward(ThreadPool& pool, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, int64_t N, int64_t V, double grad_scale);

// ---- Llama (kernels-llama.cc); semantics in src/backend/backend.ts ----
void rmsnorm_forward(ThreadPool& pool, float* out, float* rstd, const float* x, const float* w, int64_t N, int64_t C,
                     double eps);
void rmsnorm_backward(ThreadPool& pool, float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int64_t N, int64_t C);
// cs(2, T, hs/2): cos block, sin block (src/backend/rope-table.ts).
void rope_table(float* cs, int64_t T, int64_t hs, double theta);
void rope_forward(ThreadPool& pool, float* out, const float* x, const float* cs, int64_t B, int64_t T, int64_t NH,
                  int64_t hs);
void rope_backward(ThreadPool& pool, float* dx, const float* dout, const float* cs, int64_t B, int64_t T, int64_t NH,
                   int64_t hs);
void swiglu_forward(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(ThreadPool& pool, float* dgate, float* dup, const float* gate, const float* up,
                     const float* dout, int64_t n);

// ---- optimizers (kernels-optim.cc) ----
struct AdamWStep {
  double lr, beta1, beta2, eps, weight_decay, grad_scale;
  // 1 - beta^t, computed by the caller with JavaScript's Math.pow so every backend uses the same constants.
  double bias_correction1, bias_correction2;
};
void adamw(ThreadPool& pool, float* param, const float* grad, float* m, float* v, int64_t n, const AdamWStep& h);

struct SgdStep {
  double lr, momentum, weight_decay, grad_scale;
  bool nesterov;
};
// momentum_buf may be null (plain SGD).
void sgd(ThreadPool& pool, float* param, const float* grad, float* momentum_buf, int64_t n, const SgdStep& h);

// Work split granularity for memory-bound elementwise loops (elements per thread at least).
constexpr int64_t kElementwiseGrain = 1 << 15;

}  // namespace hydra
