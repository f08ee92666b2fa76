# The two entry points of the README: `make run` and `make test`. Each installs what
# it needs from Debian's packages (apt-get) when missing, configures, builds, then acts.

BUILD_DEPS := cmake make g++ pkg-config libyaml-cpp-dev libsystemd-dev libgtest-dev libcli11-dev libfmt-dev libssl-dev libnghttp2-dev zlib1g-dev libbrotli-dev libzstd-dev nghttp2-client chromium libnss3-tools \
              media-types curl openssl python3 python3-yaml testssl.sh prometheus
JOBS       := $(shell nproc 2>/dev/null || echo 2)
BUILD      ?= build
CMAKE_ARGS ?=
ARGS       ?=
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

ifeq ($(WERROR),1)
CMAKE_ARGS += -DPYWEBD_WERROR=ON
endif

.PHONY: run test test-sanitize deps build build-sanitize packages image e2e ktls fuzz clean

deps:
	@missing=$$(for p in $(BUILD_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing build dependencies:" $$missing; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

# Serves ./static on port 8888 with the built-in defaults (ARGS="9000" for another port).
# As root, pywebd refuses root workers unless told explicitly: this developer command does.
RUN_AS := $(shell [ "$$(id -u)" = 0 ] && echo "-u root")
run: build
	./$(BUILD)/src/master/pywebd $(RUN_AS) $(ARGS)

# Builds everything and runs every test.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize:
	$(MAKE) test BUILD=build-sanitize CMAKE_ARGS="$(CMAKE_ARGS) -DPYWEBD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

# The .deb and .rpm (build-package/out), checked with lintian and rpmlint.
packages:
	packaging/build-packages

# The OCI image localhost/pywebd:<version> from the .deb and a debootstrapped Debian 12
# (root: debootstrap, buildah, podman), saved in build-image/out.
image:
	packaging/image/build-image

# The .deb under a real systemd in systemd-nspawn (root).
e2e:
	tests/e2e/run

# The kTLS path under qemu with Debian's kernel (root: installs qemu and the kernel).
ktls: build
	tests/ktls/run $(BUILD)/src/master/pywebd

# libFuzzer targets, FUZZ_SECONDS each (default 60).
fuzz:
	tests/fuzz/run

clean:
	rm -rf build build-sanitize build-package build-fuzz build-image
