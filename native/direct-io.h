// Direct (O_DIRECT) positional I/O for the disk tier's scratch files; see direct-io.cc.
#pragma once

#include <napi.h>

namespace hydra {

Napi::Value DirectOpen(const Napi::CallbackInfo& info);
Napi::Value DirectClose(const Napi::CallbackInfo& info);
Napi::Value DirectTransfer(const Napi::CallbackInfo& info);
Napi::Value DirectAddressMod(const Napi::CallbackInfo& info);
Napi::Value DirectStats(const Napi::CallbackInfo& info);

}  // namespace hydra
