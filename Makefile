# Two commands do all the set-up on a fresh Debian 12 machine (as root):
#   make demo   install missing packages, build, run the demo end to end
#   make test   install missing packages, build, run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_TEST_ARGS ?= --print-errorlogs

.PHONY: all deps build test test-unit test-asan demo bench clean

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

demo: build
	./tools/demo.sh $(BUILD)/tools/dsfs

bench: build
	./bench/run-all.sh $(BUILD)/tools/dsfs

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
