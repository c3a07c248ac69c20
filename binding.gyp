# The native cpu backend. scripts/build-native.mjs sets the HYDRA_* variables below (it probes for OpenBLAS and for
# -march=native support) and then runs node-gyp; see that script for the fallbacks.
#   HYDRA_BLAS        openblas | builtin      which sgemm to link (builtin = native/sgemm-builtin.cc)
#   HYDRA_BLAS_CFLAGS extra compile flags for OpenBLAS (e.g. -I/usr/include/openblas)
#   HYDRA_BLAS_LIBS   link flags for OpenBLAS (default -lopenblas)
#   HYDRA_ARCH_FLAGS  target flags (default -march=native)
{
  "variables": {
    "hydra_blas%": "<!(node -p \"process.env.HYDRA_BLAS || 'openblas'\")",
  },
  "targets": [
    {
      "target_name": "hydra_cpu",
      "sources": [
        "native/addon.cc",
        "native/arena.cc",
        "native/args.cc",
        "native/buffers.cc",
        "native/device.cc",
        "native/device-transfers.cc",
        "native/device-kernels.cc",
        "native/device-kernels-nn.cc",
        "native/device-kernels-llama.cc",
        "native/direct-io.cc",
        "native/gemm.cc",
        "native/gemm-peak.cc",
        "native/init-normal.cc",
        "native/memory-advice.cc",
        "native/thread-pool.cc",
        "native/kernels-elementwise.cc",
        "native/kernels-embedding.cc",
        "native/kernels-layernorm.cc",
        "native/kernels-activation.cc",
        "native/kernels-attention.cc",
        "native/kernels-loss.cc",
        "native/kernels-optim.cc",
        "native/kernels-llama.cc",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      # Determinism: -O3 without -ffast-math, and no a*b+c contraction into FMA (that would change roundings
      # depending on what the optimiser chose to fuse). -fno-trapping-math and -fno-math-errno change no value (GCC
      # stops preserving floating-point exception flags and errno, which nothing reads); they let it vectorise loops
      # with selects (the exp() of softmax, cross-entropy, GELU) and with sqrt (AdamW).
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14", "-std=c++14"],
      "cflags_cc": [
        "-std=c++17", "-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-trapping-math", "-fno-math-errno", "-fexceptions", "-pthread",
        "-Wall", "-Wextra", "-Wno-unused-parameter",
        "<!@(node -p \"process.env.HYDRA_ARCH_FLAGS === undefined ? '-march=native' : process.env.HYDRA_ARCH_FLAGS\")",
      ],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno"],
      },
      "conditions": [
        ["hydra_blas=='openblas'", {
          "sources": ["native/sgemm-openblas.cc"],
          "cflags_cc": ["<!@(node -p \"process.env.HYDRA_BLAS_CFLAGS || ''\")"],
          "libraries": ["<!@(node -p \"process.env.HYDRA_BLAS_LIBS || '-lopenblas'\")"],
        }, {
          "sources": ["native/sgemm-builtin.cc"],
        }],
      ],
    },
  ],
}
