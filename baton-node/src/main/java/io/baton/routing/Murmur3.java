package io.baton.routing;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * MurmurHash3 x64 128-bit (Austin Appleby, public domain), first 64 bits: for seeds {@code >= 0}
 * the same value as Guava's {@code Hashing.murmur3_128(seed).hashBytes(b).asLong()} (the reference
 * takes the seed as unsigned, Guava sign-extends it). Well mixed and fast, which is all a hash ring
 * needs; it is not a cryptographic hash, so ring keys an attacker chooses can be steered to one
 * member (as with any consistent hash).
 *
 * <p>Stateless; thread-safe.
 */
final class Murmur3 {
  private static final VarHandle LONG_LE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long C1 = 0x87c37b91114253d5L;
  private static final long C2 = 0x4cf5ad432745937fL;

  private Murmur3() {}

  static long hash64(byte[] data, int seed) {
    long h1 = seed & 0xffffffffL;
    long h2 = h1;
    int length = data.length;
    int blocks = length / 16;
    for (int i = 0; i < blocks; i++) {
      long k1 = (long) LONG_LE.get(data, i * 16);
      long k2 = (long) LONG_LE.get(data, i * 16 + 8);
      h1 ^= mixK1(k1);
      h1 = Long.rotateLeft(h1, 27) + h2;
      h1 = h1 * 5 + 0x52dce729;
      h2 ^= mixK2(k2);
      h2 = Long.rotateLeft(h2, 31) + h1;
      h2 = h2 * 5 + 0x38495ab5;
    }
    int tail = blocks * 16;
    long k1 = 0;
    long k2 = 0;
    for (int i = length - tail - 1; i >= 8; i--) {
      k2 ^= (data[tail + i] & 0xffL) << ((i - 8) * 8);
    }
    for (int i = Math.min(length - tail, 8) - 1; i >= 0; i--) {
      k1 ^= (data[tail + i] & 0xffL) << (i * 8);
    }
    if (length - tail > 8) h2 ^= mixK2(k2);
    if (length - tail > 0) h1 ^= mixK1(k1);
    h1 ^= length;
    h2 ^= length;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    return h1 + h2;
  }

  private static long mixK1(long k1) {
    return Long.rotateLeft(k1 * C1, 31) * C2;
  }

  private static long mixK2(long k2) {
    return Long.rotateLeft(k2 * C2, 33) * C1;
  }

  private static long fmix64(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }
}
