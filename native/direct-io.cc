// Direct I/O for the disk tier's scratch files: open(O_DIRECT) and positional reads and writes of any byte range
// (any address, any offset, any length), run on libuv's thread pool. O_DIRECT bypasses the page cache: a spilled
// byte is not held a second time in RAM (the host cap is about what hydra-dl holds, but the page cache is RAM too,
// and reads it served would hide the disk's real speed). O_DIRECT wants the buffer address, the file offset and the
// length aligned to the device's block. A transfer whose memory is aligned where its file offset is (address ≡ offset
// mod 4 KiB) goes straight between the caller's memory and the disk for its whole blocks; only a partial head or
// tail block, and any transfer whose address and offset are not congruent, go through a 2 MiB aligned bounce buffer
// per pool thread (the head and tail blocks of a write are read first, so the bytes around the range keep their
// contents). The bounce is a memcpy on a pool thread, CPU the compute threads share: callers allocate aligned
// (directAddressMod tells them where a buffer sits), and directStats counts the bytes each way takes so that tests
// can pin it. Reads past the end of the file give zeros (never-written scratch).
// A failure rejects with an Error whose `code` is the errno's name (ENOSPC, EFBIG, ...), as Node's fs does.
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "direct-io.h"
#include "view-bytes.h"

namespace hydra {

namespace {

// Alignment of address, offset and length: 4 KiB covers 512-byte and 4 KiB logical blocks.
constexpr int64_t kAlign = 4096;
constexpr int64_t kBounce = 2 << 20;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// Bytes moved straight to or from the caller's memory, and through the bounce buffer (since the process started).
std::atomic<uint64_t> g_direct{0}, g_bounced{0};

char* bounce() {
  thread_local std::unique_ptr<char, FreeDeleter> buf;
  if (!buf) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, kBounce) != 0) return nullptr;
    buf.reset(static_cast<char*>(p));
  }
  return buf.get();
}

// pread until `len` bytes or the end of the file; the rest is zeroed. Returns 0 or an errno.
int read_full(int fd, char* dst, int64_t len, int64_t off) {
  int64_t done = 0;
  while (done < len) {
    const ssize_t n = pread(fd, dst + done, static_cast<size_t>(len - done), off + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    done += n;
    // A short read of a direct fd ends at EOF (not block-aligned there): the next one would be unaligned.
    if (done % kAlign != 0) break;
  }
  if (done < len) std::memset(dst + done, 0, static_cast<size_t>(len - done));
  return 0;
}

int write_full(int fd, const char* src, int64_t len, int64_t off) {
  int64_t done = 0;
  while (done < len) {
    const ssize_t n = pwrite(fd, src + done, static_cast<size_t>(len - done), off + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += n;
  }
  return 0;
}

// Any range through the bounce buffer.
int bounced(int fd, char* data, int64_t len, int64_t off, bool write) {
  char* b = bounce();
  if (b == nullptr) return ENOMEM;
  g_bounced += static_cast<uint64_t>(len);
  // Walk the enclosing aligned range in bounce-sized pieces.
  const int64_t start = off / kAlign * kAlign;
  const int64_t end = (off + len + kAlign - 1) / kAlign * kAlign;
  for (int64_t at = start; at < end; at += kBounce) {
    const int64_t piece = std::min<int64_t>(kBounce, end - at);
    const int64_t lo = std::max(at, off), hi = std::min(at + piece, off + len);  // the caller's bytes in this piece
    if (!write) {
      if (int e = read_full(fd, b, piece, at)) return e;
      std::memcpy(data + (lo - off), b + (lo - at), static_cast<size_t>(hi - lo));
      continue;
    }
    // Partial head or tail block: its other bytes are read first so that the write keeps them.
    if (lo > at) {
      if (int e = read_full(fd, b, kAlign, at)) return e;
    }
    if (hi < at + piece) {
      if (int e = read_full(fd, b + piece - kAlign, kAlign, at + piece - kAlign)) return e;
    }
    std::memcpy(b + (lo - at), data + (lo - off), static_cast<size_t>(hi - lo));
    if (int e = write_full(fd, b, piece, at)) return e;
  }
  return 0;
}

int transfer(int fd, char* data, int64_t len, int64_t off, bool write) {
  // The bytes up to the first block boundary of the file, the whole blocks after it, and what is left.
  const int64_t head = std::min(len, (kAlign - off % kAlign) % kAlign);
  const int64_t body = (len - head) / kAlign * kAlign;
  const int64_t tail = len - head - body;
  if (body == 0 || reinterpret_cast<uintptr_t>(data + head) % kAlign != 0) return bounced(fd, data, len, off, write);
  if (head > 0) {
    if (int e = bounced(fd, data, head, off, write)) return e;
  }
  if (int e = write ? write_full(fd, data + head, body, off + head) : read_full(fd, data + head, body, off + head)) return e;
  g_direct += static_cast<uint64_t>(body);
  return tail > 0 ? bounced(fd, data + head + body, tail, off + head + body, write) : 0;
}

Napi::Error errno_error(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, std::string(uv_err_name(-err)) + ": " + std::strerror(err) + ", " + what);
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  return e;
}

class DirectWorker : public Napi::AsyncWorker {
 public:
  DirectWorker(Napi::Env env, int fd, char* data, int64_t len, int64_t off, bool write, Napi::Object host)
      : Napi::AsyncWorker(env, "hydra.directio"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), data_(data),
        len_(len), off_(off), write_(write) {
    host_ = Napi::Persistent(host);  // the array stays alive until the transfer is done
  }
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override { err_ = transfer(fd_, data_, len_, off_, write_); }
  void OnOK() override {
    if (err_ == 0) deferred_.Resolve(Env().Undefined());
    else deferred_.Reject(errno_error(Env(), err_, write_ ? "pwrite" : "pread").Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  char* data_;
  int64_t len_, off_;
  bool write_;
  int err_ = 0;
  Napi::ObjectReference host_;
};

}  // namespace

// directOpen(path): a read-write fd opened with O_DIRECT; throws with `code` (EINVAL: this file system refuses it).
Napi::Value DirectOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "directOpen: path must be a string");
  const std::string path = info[0].As<Napi::String>();
  const int fd = open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) throw errno_error(env, errno, "open " + path);
  return Napi::Number::New(env, fd);
}

Napi::Value DirectClose(const Napi::CallbackInfo& info) {
  if (info.Length() >= 1 && info[0].IsNumber()) close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// directTransfer(fd, bytes: Uint8Array, fileOffset, write): Promise<void>.
Napi::Value DirectTransfer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, "directTransfer(fd, bytes: Uint8Array, fileOffset, write)");
  }
  Napi::TypedArray a = info[1].As<Napi::TypedArray>();
  const double off = info[2].As<Napi::Number>().DoubleValue();
  if (!(off >= 0) || off != static_cast<double>(static_cast<int64_t>(off))) throw Napi::RangeError::New(env, "directTransfer: fileOffset must be a non-negative integer");
  // napi_get_typedarray_info's pointer works for SharedArrayBuffer-backed arrays too; it is the view's first byte.
  void* raw = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, a, &type, &length, &raw, nullptr, nullptr), Napi::Value());
  if (type != napi_uint8_array) throw Napi::TypeError::New(env, "directTransfer: bytes must be a Uint8Array");
  auto* w = new DirectWorker(env, info[0].As<Napi::Number>().Int32Value(), static_cast<char*>(raw), static_cast<int64_t>(length),
                             static_cast<int64_t>(off), info[3].As<Napi::Boolean>().Value(), a);
  w->Queue();
  return w->promise();
}

// directAddressMod(bytes: Uint8Array): the address of its first byte modulo 4096 (0: a direct transfer can start there).
Napi::Value DirectAddressMod(const Napi::CallbackInfo& info) {
  const ViewBytes v = view_bytes(info, 0, "directAddressMod(bytes: Uint8Array)");
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(v.data) % kAlign));
}

// directStats(): { direct, bounced }: bytes transferred straight and through the bounce buffer since the process began.
Napi::Value DirectStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("direct", Napi::Number::New(info.Env(), static_cast<double>(g_direct.load())));
  o.Set("bounced", Napi::Number::New(info.Env(), static_cast<double>(g_bounced.load())));
  return o;
}

}  // namespace hydra
