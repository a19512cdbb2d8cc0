/**
 * JMH microbenchmarks of the hot paths Baton owns, packaged as {@code
 * baton-bench/target/benchmarks.jar}; see {@code baton-bench/README.md}.
 *
 * <p>Pure computation: {@link io.baton.bench.StateCodecBenchmark}, {@link
 * io.baton.bench.HeadParsingBenchmark}, {@link io.baton.bench.RoutingBenchmark}. Against the
 * kernel, as root, each in a network namespace of its own ({@link io.baton.bench.BenchNamespace}):
 * {@link io.baton.bench.ForwardingTableBenchmark}, {@link io.baton.bench.TransplantBenchmark}.
 */
package io.baton.bench;
