// Parameter initialisation off the JavaScript thread. The generator is counter-based (rng.h), so element i depends
// only on (prefix, i): any split over threads gives the same values.
//
// Bit-exactness with src/nn/init.ts: the JavaScript reference computes, in double,
//   d = std * (sqrt(-2 log(1 - u1)) * cos(2 pi u2))   and stores float32(d).
// Every operation here is the same IEEE operation on the same operands (no FMA contraction: -ffp-contract=off)
// except log and cos, which come from normal-math.h instead of V8's libm. Those differ from V8's by less than 2^-46
// relative (checked on all 2^24 inputs each can receive), so this d differs from JavaScript's by far less than
// kMargin relative. When float32(d (1 - kMargin)) == float32(d (1 + kMargin)), JavaScript's d lies in the same
// rounding interval and rounds to the same float; otherwise the element is reported back and the caller
// recomputes it with the reference (about 2 in 10^5 elements). Zero results are reported too (their sign would
// follow cos's sign).
#include "init-normal.h"

#include <cmath>
#include <string>

#include "normal-math.h"
#include "rng.h"
#include "thread-pool.h"

namespace hydra {

namespace {

constexpr double kMargin = 0x1p-42;
constexpr double kTwoPi = 2.0 * 3.141592653589793;  // JavaScript's 2 * Math.PI (exact: a power-of-two scaling)
constexpr int kBlock = 256;

}  // namespace

void init_normal_range(float* dst, int64_t begin, int64_t end, uint32_t prefix, double std, std::vector<uint32_t>& unsure) {
  double d[kBlock];
  unsigned char doubt[kBlock];
  for (int64_t b0 = begin; b0 < end; b0 += kBlock) {
    const int m = static_cast<int>(end - b0 < kBlock ? end - b0 : kBlock);
    for (int k = 0; k < m; ++k) {
      // rng.ts indexes the two uniforms of element i at 2i and 2i+1, truncated to 32 bits as JavaScript's `^` does.
      const uint32_t i2 = static_cast<uint32_t>(static_cast<uint64_t>(b0 + k) * 2);
      const double u1 = 1.0 - static_cast<double>(static_cast<int32_t>(hash_at(prefix, i2) >> 8)) * (1.0 / 16777216.0);
      const double u2 = static_cast<double>(static_cast<int32_t>(hash_at(prefix, i2 + 1) >> 8)) * (1.0 / 16777216.0);
      const double r = std::sqrt(-2.0 * normal_log(u1));
      d[k] = std * (r * normal_cos(kTwoPi * u2));
    }
    float* out = dst + (b0 - begin);
    for (int k = 0; k < m; ++k) {
      const double a = std::fabs(d[k]) * kMargin;
      out[k] = static_cast<float>(d[k]);
      doubt[k] = (static_cast<float>(d[k] - a) != static_cast<float>(d[k] + a)) | (d[k] == 0.0);
    }
    for (int k = 0; k < m; ++k) {
      if (doubt[k]) unsure.push_back(static_cast<uint32_t>(b0 + k));
    }
  }
}

namespace {

struct Job {
  float* dst;
  int64_t n;
  double std;
  uint32_t prefix;
};

class InitWorker : public Napi::AsyncWorker {
 public:
  InitWorker(Napi::Env env, Napi::Array jobsArray, std::vector<Job> jobs, int threads)
      : Napi::AsyncWorker(env, "hydra.initNormal"), deferred_(Napi::Promise::Deferred::New(env)), jobs_(std::move(jobs)), threads_(threads) {
    keep_ = Napi::Persistent(jobsArray.As<Napi::Object>());  // the arrays we write into stay alive until we are done
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    int64_t total = 0;
    for (const Job& j : jobs_) total += j.n;
    // Parts cover contiguous ranges of all jobs' elements laid end to end; each keeps its own doubt list per job.
    const int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads_, total / 65536)));
    unsure_.assign(parts, std::vector<std::vector<uint32_t>>(jobs_.size()));
    ThreadPool pool(parts);
    pool.run(parts, [&](int p) {
      const int64_t lo = total * p / parts, hi = total * (p + 1) / parts;
      int64_t base = 0;
      for (size_t j = 0; j < jobs_.size(); ++j) {
        const int64_t b = std::max(lo, base), e = std::min(hi, base + jobs_[j].n);
        if (b < e) init_normal_range(jobs_[j].dst + (b - base), b - base, e - base, jobs_[j].prefix, jobs_[j].std, unsure_[p][j]);
        base += jobs_[j].n;
      }
    });
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, jobs_.size());
    for (size_t j = 0; j < jobs_.size(); ++j) {
      size_t count = 0;
      for (const auto& part : unsure_) count += part[j].size();
      Napi::Uint32Array a = Napi::Uint32Array::New(env, count);
      size_t at = 0;
      for (const auto& part : unsure_) {
        for (uint32_t i : part[j]) a[at++] = i;
      }
      out.Set(static_cast<uint32_t>(j), a);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
  std::vector<Job> jobs_;
  int threads_;
  std::vector<std::vector<std::vector<uint32_t>>> unsure_;
};

Napi::TypedArray typed(Napi::Env env, Napi::Value v, napi_typedarray_type type, const std::string& what, void** data) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, what + " must be a " + (type == napi_float32_array ? "Float32Array" : "Float64Array"));
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  napi_get_typedarray_info(env, a, nullptr, nullptr, data, nullptr, nullptr);
  return a;
}

double number_field(Napi::Env env, Napi::Object o, const char* key, const std::string& what) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, what + "." + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

Napi::Value InitNormal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "initNormal(jobs, threads): jobs must be an array and threads a number");
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  const double threads = info[1].As<Napi::Number>().DoubleValue();
  if (!(threads >= 1 && threads <= 1024 && std::floor(threads) == threads)) {
    throw Napi::RangeError::New(env, "initNormal: threads must be an integer in [1, 1024], got " + info[1].ToString().Utf8Value());
  }
  std::vector<Job> jobs;
  for (uint32_t j = 0; j < arr.Length(); ++j) {
    const std::string what = "initNormal: jobs[" + std::to_string(j) + "]";
    Napi::Value v = arr.Get(j);
    if (!v.IsObject()) throw Napi::TypeError::New(env, what + " must be an object {dst, std, prefix}");
    Napi::Object o = v.As<Napi::Object>();
    void* data = nullptr;
    Napi::TypedArray dst = typed(env, o.Get("dst"), napi_float32_array, what + ".dst", &data);
    const double prefix = number_field(env, o, "prefix", what);
    if (!(prefix >= 0 && prefix <= 4294967295.0 && std::floor(prefix) == prefix)) {
      throw Napi::RangeError::New(env, what + ".prefix must be a uint32, got " + std::to_string(prefix));
    }
    if (dst.ElementLength() > 4294967295u) throw Napi::RangeError::New(env, what + ".dst has more than 2^32 - 1 elements");
    jobs.push_back({static_cast<float*>(data), static_cast<int64_t>(dst.ElementLength()), number_field(env, o, "std", what), static_cast<uint32_t>(prefix)});
  }
  auto* worker = new InitWorker(env, arr, std::move(jobs), static_cast<int>(threads));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value NormalLogCos(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) throw Napi::TypeError::New(env, "normalLogCos(u, logOut, cosOut): three Float64Arrays");
  void *u = nullptr, *l = nullptr, *c = nullptr;
  const size_t n = typed(env, info[0], napi_float64_array, "normalLogCos: u", &u).ElementLength();
  if (typed(env, info[1], napi_float64_array, "normalLogCos: logOut", &l).ElementLength() < n ||
      typed(env, info[2], napi_float64_array, "normalLogCos: cosOut", &c).ElementLength() < n) {
    throw Napi::RangeError::New(env, "normalLogCos: logOut and cosOut need as many elements as u");
  }
  const double* ud = static_cast<const double*>(u);
  double* ld = static_cast<double*>(l);
  double* cd = static_cast<double*>(c);
  for (size_t i = 0; i < n; ++i) {
    ld[i] = normal_log(1.0 - ud[i]);
    cd[i] = normal_cos(kTwoPi * ud[i]);
  }
  return env.Undefined();
}

}  // namespace hydra
