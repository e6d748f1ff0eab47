# Thin shortcuts over scripts/ and the CMake presets.
.PHONY: setup build run test asan tsan fuzz bench format clean

setup:
	scripts/setup
build:
	scripts/build release
run:
	scripts/run
test:
	scripts/test
asan:
	scripts/build asan && ctest --test-dir build/asan --output-on-failure
tsan:
	scripts/build tsan && ctest --test-dir build/tsan --output-on-failure
fuzz:
	scripts/fuzz $(or $(FUZZ_SECONDS),60)
bench: build
	build/release/bench/ingest_bench --events 10000000
	build/release/bench/amqp_bench --events 1000000
	build/release/bench/query_bench --events 10000000
	build/release/bench/security_bench --events 1000000
	build/release/bench/event_decoder_benchmark
	build/release/bench/hmac_pseudonymizer_benchmark
format:
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i
clean:
	rm -rf build
