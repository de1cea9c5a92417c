# s2s native kernels (see native/addon.c). Built by `npm install` / `npm run build:native`.
#
# OpenBLAS is looked for at configure time: first through pkg-config
# (`pkg-config --cflags --libs openblas`), then as libopenblas.so in the usual
# library directories. When found, GEMM calls cblas_sgemm; otherwise the
# addon's own blocked GEMM is compiled in and a one-line notice is printed
# when the addon loads. S2S_NO_OPENBLAS=1 in the environment forces the
# fallback (used to test it).
#
# native/kernels.c is compiled into one static library per ISA: baseline
# flags, and on x64 also -mavx2 -mfma and -mavx512f/dq/bw/vl. addon.c picks
# at load time (__builtin_cpu_supports): AVX2 kernels when the CPU has AVX2
# and FMA, with the LSTM/GRU cell kernels from the AVX-512 build when it has
# AVX-512. So the binary stays portable; -march=native is deliberately not
# used. native/int8.c (the int8 inference kernels) is built the same way in
# three variants (generic, avx2, avx512vnni) with -ffp-contract=off, picked
# at load time too (AVX-512 VNNI when the CPU has it). Kernels are built with -O3 -fno-trapping-math -fno-math-errno (which
# let gcc if-convert and vectorise the cell loops; no -ffast-math, so NaN and
# infinity behave as in IEEE arithmetic).
{
  'variables': {
    # "-L<dir> -lopenblas" style linker flags, or "none".
    'openblas_libs%': '<!(sh -c \'if [ "${S2S_NO_OPENBLAS:-0}" != "0" ]; then echo none; elif pkg-config --exists openblas 2>/dev/null; then pkg-config --libs openblas; else for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /opt/OpenBLAS/lib /opt/homebrew/opt/openblas/lib /usr/local/opt/openblas/lib; do if [ -e "$d/libopenblas.so" ] || [ -e "$d/libopenblas.dylib" ]; then echo "-L$d -lopenblas"; exit 0; fi; done; echo none; fi\')',
    'avx512_cflags': ['-mavx512f', '-mavx512dq', '-mavx512bw', '-mavx512vl', '-mavx2', '-mfma', '-mprefer-vector-width=512'],
    # The int8 kernels promise bit-equal results across kernel sets (src/engine/kernels/types.ts): no FMA contraction.
    'int8_cflags': ['-O3', '-fPIC', '-ffp-contract=off', '-fno-math-errno', '-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter'],
    'kernel_cflags': ['-O3', '-fPIC', '-fno-trapping-math', '-fno-math-errno', '-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter'],
  },
  'targets': [
    {
      'target_name': 's2s_kernels_generic',
      'type': 'static_library',
      'sources': ['native/kernels.c'],
      'defines': ['S2S_VARIANT=generic'],
      'cflags': ['<@(kernel_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['<@(kernel_cflags)']},
    },
    {
      'target_name': 's2s_int8_generic',
      'type': 'static_library',
      'sources': ['native/int8.c'],
      'defines': ['S2S_INT8_VARIANT=generic'],
      'cflags': ['<@(int8_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['<@(int8_cflags)']},
    },
    {
      'target_name': 's2s_native',
      'sources': ['native/addon.c'],
      'dependencies': ['s2s_kernels_generic', 's2s_int8_generic'],
      'cflags': ['<@(kernel_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['<@(kernel_cflags)']},
      'conditions': [
        ['openblas_libs!="none"', {
          'defines': ['S2S_OPENBLAS=1'],
          'libraries': ['<!@(echo <(openblas_libs))'],
          # Pin the OpenBLAS build we linked against (Debian: the pthread one from
          # libopenblas-pthread-dev) with a RUNPATH, so the addon does not follow the
          # libopenblas.so.0 alternative when that is switched to the OpenMP build for
          # PyTorch: inside Node the pthread build is the faster one (bench/README.md).
          # LD_LIBRARY_PATH still overrides it.
          'ldflags': ['<!@(sh -c \'for f in <(openblas_libs); do case "$f" in (-L*) echo "-Wl,-rpath,${f#-L}";; esac; done\')'],
        }, {
          'defines': ['S2S_OPENBLAS=0'],
        }],
        ['target_arch=="x64"', {
          'defines': ['S2S_HAVE_AVX2_VARIANT', 'S2S_HAVE_AVX512_VARIANT'],
          'dependencies': ['s2s_kernels_avx2', 's2s_kernels_avx512', 's2s_int8_avx2', 's2s_int8_avx512vnni'],
        }],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 's2s_kernels_avx2',
          'type': 'static_library',
          'sources': ['native/kernels.c'],
          'defines': ['S2S_VARIANT=avx2', 'S2S_HAVE_AVX2_VARIANT'],
          'cflags': ['<@(kernel_cflags)', '-mavx2', '-mfma'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(kernel_cflags)', '-mavx2', '-mfma']},
        },
        {
          'target_name': 's2s_int8_avx2',
          'type': 'static_library',
          'sources': ['native/int8.c'],
          'defines': ['S2S_INT8_VARIANT=avx2', 'S2S_HAVE_AVX2_VARIANT'],
          'cflags': ['<@(int8_cflags)', '-mavx2', '-mfma'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(int8_cflags)', '-mavx2', '-mfma']},
        },
        {
          'target_name': 's2s_int8_avx512vnni',
          'type': 'static_library',
          'sources': ['native/int8.c'],
          'defines': ['S2S_INT8_VARIANT=avx512vnni', 'S2S_HAVE_AVX2_VARIANT'],
          'cflags': ['<@(int8_cflags)', '-mavx2', '-mfma', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512vnni'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(int8_cflags)', '-mavx2', '-mfma', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512vnni']},
        },
        {
          'target_name': 's2s_kernels_avx512',
          'type': 'static_library',
          'sources': ['native/kernels.c'],
          'defines': ['S2S_VARIANT=avx512'],
          'cflags': ['<@(kernel_cflags)', '<@(avx512_cflags)'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(kernel_cflags)', '<@(avx512_cflags)']},
        },
      ],
    }],
  ],
}
