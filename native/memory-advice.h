// Advice to the kernel about memory the addon does not own (the host tier's SharedArrayBuffers); see memory-advice.cc.
#pragma once

#include <napi.h>

namespace hydra {
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info);
}
