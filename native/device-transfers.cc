// upload/download: a memcpy between a host typed array (possibly on a SharedArrayBuffer) and device memory, run on
// libuv's thread pool so it overlaps with kernels on other buffers. Each returns a Promise of the copy's own duration
// in seconds (waiting for earlier transfers on the same buffer excluded), which lets the executor report how much
// copying really overlapped compute.
#include <chrono>
#include <cstring>
#include <string>

#include "args.h"
#include "device.h"

namespace hydra {

namespace {

class TransferWorker : public Napi::AsyncWorker {
 public:
  TransferWorker(Napi::Env env, BufferTable& table, DeviceBuffer* buf, uint64_t ticket, void* dst, const void* src,
                 size_t bytes, Napi::Object device, Napi::Object host)
      : Napi::AsyncWorker(env, "hydra.cpu.transfer"),
        deferred_(Napi::Promise::Deferred::New(env)),
        table_(table),
        buf_(buf),
        ticket_(ticket),
        dst_(dst),
        src_(src),
        bytes_(bytes) {
    // Keep the backend (which owns the device memory) and the host array alive until the copy is done.
    device_ = Napi::Persistent(device);
    host_ = Napi::Persistent(host);
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    table_.wait_turn(buf_, ticket_);
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst_, src_, bytes_);
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    table_.end_transfer(buf_, ticket_);
  }

  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), seconds_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  BufferTable& table_;
  DeviceBuffer* buf_;
  uint64_t ticket_;
  void* dst_;
  const void* src_;
  size_t bytes_;
  double seconds_ = 0;
  Napi::ObjectReference device_;
  Napi::ObjectReference host_;
};

}  // namespace

// upload(id, hostArray, dstOffset) / download(id, hostArray, srcOffset, length)
Napi::Value CpuDevice::Transfer(const Napi::CallbackInfo& info, bool to_device) {
  const char* op = to_device ? "upload" : "download";
  pool(op);
  Args args(info, op, table_);
  if (info.Length() < 2 || !info[1].IsTypedArray()) args.type_error("the host array must be a Float32Array or Int32Array");
  Napi::TypedArray host = info[1].As<Napi::TypedArray>();
  const napi_typedarray_type kind = host.TypedArrayType();
  if (kind != napi_float32_array && kind != napi_int32_array) {
    args.type_error("the host array must be a Float32Array or Int32Array");
  }
  const double id = args.number(0, "buffer");
  DeviceBuffer* buf = table_.find(static_cast<uint64_t>(id));
  if (buf == nullptr) args.range_error("no live buffer with id " + std::to_string(static_cast<int64_t>(id)));
  const DType host_dtype = kind == napi_float32_array ? DType::F32 : DType::I32;
  if (host_dtype != buf->dtype) {
    args.type_error(std::string("dtype mismatch: the buffer is ") + (buf->dtype == DType::F32 ? "f32" : "i32") +
                    " but the host array is " + (host_dtype == DType::F32 ? "a Float32Array" : "an Int32Array"));
  }
  const int64_t offset = args.count(2, to_device ? "dstOffset" : "srcOffset");
  const int64_t host_length = static_cast<int64_t>(host.ElementLength());
  const int64_t n = to_device ? host_length : args.count(3, "length");
  if (offset + n > buf->length) {
    args.range_error(std::to_string(n) + " elements at offset " + std::to_string(offset) + " overflow a buffer of " +
                     std::to_string(buf->length));
  }
  if (n > host_length) {
    args.range_error("the host array has " + std::to_string(host_length) + " elements, " + std::to_string(n) +
                     " are needed");
  }
  Napi::Env env = info.Env();
  if (n == 0) {
    auto done = Napi::Promise::Deferred::New(env);
    done.Resolve(Napi::Number::New(env, 0));
    return done.Promise();
  }
  // napi_get_typedarray_info's data pointer works for SharedArrayBuffer-backed arrays too (ArrayBuffer::Data()
  // would refuse a SharedArrayBuffer).
  void* raw = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, host, nullptr, nullptr, &raw, nullptr, nullptr), Napi::Value());
  char* host_data = static_cast<char*>(raw);
  char* device_data = static_cast<char*>(buf->data) + offset * 4;
  const uint64_t ticket = table_.begin_transfer(buf);
  auto* worker = new TransferWorker(env, table_, buf, ticket, to_device ? device_data : host_data,
                                    to_device ? host_data : device_data, static_cast<size_t>(n) * 4, Value(), host);
  worker->Queue();
  return worker->promise();
}

}  // namespace hydra
