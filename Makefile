# libclipt build.
#
#   make                 library (build/libclipt.a, build/libclipt.so) and examples
#   make test            install missing packages, build, run every test suite
#   make test-asan       the same suites under AddressSanitizer + UBSan
#   make fuzz            libFuzzer targets for the checkpoint readers (clang)
#   make fuzz-run FUZZ_SECONDS=600   run them, the time split between them
#   make demo            the main job: fine-tune on WordNet (see README.md)
#   make install PREFIX=/usr/local
#   make CUDA=0 ...      build without the CUDA backend even when nvcc exists
#   make gpu-check       bundle the GPU suites and benchmarks for a GPU machine
#                        (docs/gpu-check.md)
#
# Build outputs go to $(BUILD) (default build/); the sanitizer build uses
# build-asan/.

BUILD ?= build
PREFIX ?= /usr/local
CC ?= cc
CXX ?= c++

# ---- CUDA: on when nvcc is found, unless CUDA=0 ---------------------------
CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/lib/cuda))
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard $(CUDA_HOME)/bin/nvcc))
ifeq ($(origin CUDA),undefined)
  CUDA := $(if $(NVCC),1,0)
endif
ifeq ($(CUDA),1)
  ifeq ($(NVCC),)
    $(error CUDA=1 but nvcc was not found; set NVCC=/path/to/nvcc or use CUDA=0)
  endif
endif

# ---- dependencies through pkg-config --------------------------------------
# OpenBLAS: the OpenMP build when it is installed (Debian's
# libopenblas-openmp-dev), because it shares libgomp's threads with the
# library's own loops; two thread pools spinning against each other on a
# few cores cost about 40% of sgemm's speed. The pthreads build otherwise.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_OMP_PC := /usr/lib/$(MULTIARCH)/openblas-openmp/pkgconfig
ifneq ($(wildcard $(OPENBLAS_OMP_PC)/openblas.pc),)
  BLAS_CFLAGS := $(shell PKG_CONFIG_PATH=$(OPENBLAS_OMP_PC) pkg-config --cflags openblas)
  BLAS_LIBS := $(shell PKG_CONFIG_PATH=$(OPENBLAS_OMP_PC) pkg-config --libs openblas) \
               -Wl,-rpath,/usr/lib/$(MULTIARCH)/openblas-openmp
else
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
  BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null)
endif
PKGS := jansson libpcre2-8 libutf8proc zlib
PKG_CFLAGS := $(BLAS_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(BLAS_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unknown-pragmas
OPT ?= -O2 -g
SAN ?=
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -fPIC -fopenmp \
              -fvisibility=hidden -Iinclude -Ilib $(PKG_CFLAGS) -MMD -MP
LIB_CFLAGS := $(CFLAGS_ALL) -DCLIPT_BUILDING_LIBRARY
LDLIBS_ALL := $(PKG_LIBS) -fopenmp -lm -lpthread

ifeq ($(CUDA),1)
  LIB_CFLAGS += -DCLIPT_WITH_CUDA
  CUDA_ARCHS ?= -gencode arch=compute_80,code=sm_80 \
                -gencode arch=compute_90,code=[sm_90,compute_90]
  NVCC_FLAGS := -std=c++17 $(CUDA_ARCHS) -O3 -g -lineinfo --Werror all-warnings \
                -Xcompiler -fPIC,-Wall,-Wextra,-Werror,-fvisibility=hidden \
                -Iinclude -Ilib -DCLIPT_BUILDING_LIBRARY -DCLIPT_WITH_CUDA -MMD -MP
  # The CUDA runtime is linked statically and the driver is never linked:
  # the library loads on machines without a GPU or driver.
  # Template kernels and CUB need the C++ runtime (static-local guards).
  LDLIBS_ALL += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
endif

# ---- sources ---------------------------------------------------------------
LIB_SRC := $(wildcard lib/*.c lib/cpu/*.c)
CU_SRC := $(if $(filter 1,$(CUDA)),$(wildcard kernels/*.cu))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/reference.o \
                $(BUILD)/obj/tests/files.o $(BUILD)/obj/tests/cuda_harness.o
SCRIPT_TEST_BIN := $(patsubst tests/%.sh,$(BUILD)/tests/%,$(wildcard tests/test_*.sh))
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

VERSION := 0.1.0
SONAME := libclipt.so.0

.PHONY: all lib examples tests bench test test-asan setup install clean demo \
        gpu-check format-check fuzz fuzz-run

all: lib examples

lib: $(BUILD)/libclipt.a $(BUILD)/libclipt.so

# The objects depend on a stamp whose name encodes the build configuration,
# so changing CUDA, OPT, SAN or CC rebuilds everything in $(BUILD).
BUILD_CONFIG := CUDA=$(CUDA) OPT=$(OPT) SAN=$(SAN) CC=$(CC)
CONFIG_STAMP := $(BUILD)/config-$(shell printf '%s' '$(BUILD_CONFIG)' | cksum | cut -d' ' -f1).stamp

$(CONFIG_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/config-*.stamp
	@echo '$(BUILD_CONFIG)' > $@

$(BUILD)/obj/%.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

$(BUILD)/libclipt.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/libclipt.so: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $(BUILD)/libclipt.so.$(VERSION) \
	    $(LIB_OBJ) $(LDLIBS_ALL) $(SAN)
	ln -sf libclipt.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libclipt.so.$(VERSION) $@

# Examples and benchmarks use only the public header and link the static
# library; tests may also include internal headers from lib/.
$(BUILD)/examples/%: examples/%.c $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL)

$(BUILD)/obj/tests/%.o: tests/%.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_SUPPORT) $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(TEST_SUPPORT) -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL) $(CHECK_LIBS)

# A C++ program that includes the public header, to prove it compiles as C++.
$(BUILD)/tests/cxx_header: tests/cxx_header.cc include/clipt.h $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CXX) -std=c++11 -Wall -Wextra -Werror $(SAN) -Iinclude $< -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL)

# Shell test scripts run from the build tree like the Check suites.
$(BUILD)/tests/test_%: tests/test_%.sh
	@mkdir -p $(dir $@)
	cp $< $@
	chmod +x $@

examples: $(EXAMPLE_BIN)
bench: $(BENCH_BIN)
# The benchmarks are built with the tests: tests/test_bench.sh runs them.
tests: lib bench $(TEST_BIN) $(BUILD)/tests/cxx_header $(SCRIPT_TEST_BIN)

# ---- GPU check bundle ------------------------------------------------------
# The GPU suites and benchmarks, linked here with an rpath of $ORIGIN/../lib
# (DT_RPATH, which also serves the libraries' own dependencies), and the
# shared libraries they need copied beside them by scripts/gpu-check, so a
# machine with only the NVIDIA driver and cuBLAS can run them.
GPU_CHECK := $(BUILD)/gpu-check
GPU_CHECK_TESTS := $(patsubst tests/%.c,$(GPU_CHECK)/bin/%,$(wildcard tests/test_cuda_*.c))
# The op benchmark and the training step; the other benchmarks need data
# files that the bundle does not carry. scripts/gpu-check adds
# bench/torch_kernels.py, PyTorch's side of the op benchmark.
GPU_CHECK_BENCH := $(GPU_CHECK)/bin/kernels $(GPU_CHECK)/bin/step
BUNDLE_LDFLAGS := -Wl,-rpath,'$$ORIGIN/../lib' -Wl,--disable-new-dtags

$(GPU_CHECK)/bin/test_%: $(BUILD)/obj/tests/test_%.o $(TEST_SUPPORT) $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(TEST_SUPPORT) -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL) \
	    $(CHECK_LIBS) $(BUNDLE_LDFLAGS)

$(GPU_CHECK)/bin/%: bench/%.c $(BUILD)/libclipt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(BUILD)/libclipt.a $(LDLIBS_ALL) $(BUNDLE_LDFLAGS)

gpu-check:
ifneq ($(CUDA),1)
	$(error gpu-check needs the CUDA backend: nvcc was not found or CUDA=0 was given)
endif
	rm -rf $(GPU_CHECK)
	$(MAKE) $(GPU_CHECK_TESTS) $(GPU_CHECK_BENCH)
	scripts/gpu-check $(BUILD)

# ---- running ---------------------------------------------------------------
setup:
	@scripts/setup

test: setup
	$(MAKE) tests
	tests/run_suites.sh $(BUILD)

# ASan and UBSan: a separate build tree so the normal objects stay as they
# are. The CUDA runtime reserves address ranges that ASan's shadow memory
# also wants, so this build leaves CUDA out; the CPU code is the same.
test-asan: setup
	$(MAKE) BUILD=build-asan CUDA=0 OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    tests/run_suites.sh build-asan

# ---- fuzzing: clang's libFuzzer with ASan and UBSan, not part of make test.
# Each target links only the reader it exercises. fuzz-run gives every
# target FUZZ_SECONDS / 2 in one process, starting from fuzz/corpus/ (new
# inputs go to build-fuzz/corpus/) with fuzz/json.dict.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
               -Iinclude -Ilib $(shell pkg-config --cflags jansson)
FUZZ_LIBS := $(shell pkg-config --libs jansson)
FUZZ_TARGETS := safetensors config
FUZZ_SRC_safetensors := fuzz/fuzz_safetensors.c lib/safetensors.c lib/fileio.c lib/status.c
FUZZ_SRC_config := fuzz/fuzz_config.c lib/checkpoint_config.c lib/status.c

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(wildcard lib/*.c lib/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SRC_$*) -o $@ $(FUZZ_LIBS)

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    echo "fuzz_$$t: $$(($(FUZZ_SECONDS) / 2)) s"; \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$$(($(FUZZ_SECONDS) / 2)) \
	        -dict=fuzz/json.dict -print_final_stats=1 \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/clipt.h $(DESTDIR)$(PREFIX)/include/clipt.h
	install -m 644 $(BUILD)/libclipt.a $(DESTDIR)$(PREFIX)/lib/libclipt.a
	install -m 755 $(BUILD)/libclipt.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libclipt.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf libclipt.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libclipt.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(PKGS)|' \
	    -e 's|@LIBS_PRIVATE@|$(BLAS_LIBS) $(filter-out $(PKG_LIBS),$(LDLIBS_ALL))|' \
	    scripts/clipt.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/clipt.pc

# The main job: fine-tune the small preset from CLIP's random initialisation
# on WordNet for 8 minutes of training on the best available device, then
# compare the original and tuned models on the probe words.
DEMO_OUT ?= out/demo
DEMO_MINUTES ?= 8
demo: setup all
	@echo "== build done; training for $(DEMO_MINUTES) minutes (evaluation excluded)"
	$(BUILD)/examples/finetune --preset small --minutes $(DEMO_MINUTES) --out $(DEMO_OUT)
	$(BUILD)/examples/probe --original-preset small --original-seed 0 --tuned $(DEMO_OUT)/model

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

format-check:
	clang-format --dry-run --Werror include/*.h lib/*.c lib/*.h lib/*/*.c lib/*/*.h

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
