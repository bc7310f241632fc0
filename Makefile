# Two commands do all the set-up on a fresh Debian 12 machine (as root):
#   make demo   install missing packages, build, run the demo end to end
#   make test   install missing packages, build, run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_TEST_ARGS ?= --print-errorlogs

.PHONY: all deps build test test-unit test-asan test-valgrind demo bench clean

all: build

deps:
	@./tools/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	meson test -C $(BUILD) $(MESON_TEST_ARGS)

test-unit: build
	meson test -C $(BUILD) --suite unit $(MESON_TEST_ARGS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dfault_injection=true

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) $(MESON_TEST_ARGS)

# The unit tests of the non-GPU modules under valgrind's leak checker.
VALGRIND_TESTS ?= util config blob catalog history remote coco shapes export version jobs dropzone mountlink ingest verbs labelimport checkout
test-valgrind: build
	meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 10 \
	  --wrapper 'valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 -q' \
	  $(VALGRIND_TESTS)

demo: build
	./tools/demo.sh $(BUILD)/tools/dsfs

bench: build
	./bench/bench-fs.sh $(BUILD)/tools/dsfs
	./bench/bench-versions.sh
	$(BUILD)/tools/dsfs bench-ops

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
