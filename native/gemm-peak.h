#pragma once

#include <napi.h>

namespace hydra {
Napi::Value MeasureSgemmGflops(const Napi::CallbackInfo& info);
}
