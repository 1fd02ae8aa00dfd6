# bench.mk: `make bench` runs bench/run (see bench/README.md).
bench: all
	$(top_srcdir)/bench/run $(BENCH_ARGS)

.PHONY: bench
