package io.baton.linux;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny eBPF assembler for the hand-written tc programs ({@link TcForwarder}, {@link
 * FlowForwarder}, {@link EncapReceiver}): 8-byte instructions (16 for a 64-bit immediate), jumps to
 * named labels resolved when the program is taken with {@link #bytes}. Only the instructions those
 * programs use; the kernel's verifier checks the result at load.
 *
 * <p>Registers are numbers 0 to 10 (r10 the read-only frame pointer). Loads and stores name their
 * width in bytes (1, 2, 4, 8). Not thread-safe; one program per instance.
 */
final class BpfAsm {
  static final int R0 = 0,
      R1 = 1,
      R2 = 2,
      R3 = 3,
      R4 = 4,
      R5 = 5,
      R6 = 6,
      R7 = 7,
      R8 = 8,
      R9 = 9,
      R10 = 10;

  /** A jump at instruction {@code at} whose offset is {@code label}'s position, once known. */
  private record Fixup(int at, String label) {}

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final Map<String, Integer> labels = new HashMap<>();
  private final List<Fixup> fixups = new ArrayList<>();
  private int count;
  private int unique;

  private void insn(int code, int dst, int src, int off, int imm) {
    out.write(code);
    out.write((src << 4) | dst);
    out.write(off & 0xff);
    out.write((off >> 8) & 0xff);
    out.write(imm & 0xff);
    out.write((imm >> 8) & 0xff);
    out.write((imm >> 16) & 0xff);
    out.write((imm >> 24) & 0xff);
    count++;
  }

  private static int size(int bytes) {
    return switch (bytes) {
      case 1 -> 0x10; // BPF_B
      case 2 -> 0x08; // BPF_H
      case 4 -> 0x00; // BPF_W
      case 8 -> 0x18; // BPF_DW
      default -> throw new IllegalArgumentException("size " + bytes);
    };
  }

  // ---- memory ---------------------------------------------------------------------------------

  /** {@code dst = *(size *)(src + off)}, zero-extended. */
  void ldx(int bytes, int dst, int src, int off) {
    insn(0x61 | size(bytes), dst, src, off, 0);
  }

  /** {@code *(size *)(dst + off) = src}. */
  void stx(int bytes, int dst, int off, int src) {
    insn(0x63 | size(bytes), dst, src, off, 0);
  }

  /** {@code *(size *)(dst + off) = imm}. */
  void stImm(int bytes, int dst, int off, int imm) {
    insn(0x62 | size(bytes), dst, 0, off, imm);
  }

  /** {@code lock *(u64 *)(dst + off) += src} (BPF_STX | BPF_ATOMIC | BPF_DW, BPF_ADD). */
  void atomicAdd64(int dst, int off, int src) {
    insn(0xdb, dst, src, off, 0x00);
  }

  /** {@code dst = imm64} (BPF_LD | BPF_IMM | BPF_DW: two instruction slots). */
  void ldImm64(int dst, long imm) {
    insn(0x18, dst, 0, 0, (int) imm);
    insn(0x00, 0, 0, 0, (int) (imm >>> 32));
  }

  /** {@code dst = the map of descriptor fd} (BPF_PSEUDO_MAP_FD). */
  void ldMapFd(int dst, int fd) {
    insn(0x18, dst, 1, 0, fd);
    insn(0x00, 0, 0, 0, 0);
  }

  // ---- 64-bit arithmetic ----------------------------------------------------------------------

  void movReg(int dst, int src) {
    insn(0xbf, dst, src, 0, 0);
  }

  void movImm(int dst, int imm) {
    insn(0xb7, dst, 0, 0, imm);
  }

  void addImm(int dst, int imm) {
    insn(0x07, dst, 0, 0, imm);
  }

  void addReg(int dst, int src) {
    insn(0x0f, dst, src, 0, 0);
  }

  void subReg(int dst, int src) {
    insn(0x1f, dst, src, 0, 0);
  }

  void andImm(int dst, int imm) {
    insn(0x57, dst, 0, 0, imm);
  }

  void orImm(int dst, int imm) {
    insn(0x47, dst, 0, 0, imm);
  }

  void xorImm(int dst, int imm) {
    insn(0xa7, dst, 0, 0, imm);
  }

  void lshImm(int dst, int imm) {
    insn(0x67, dst, 0, 0, imm);
  }

  void rshImm(int dst, int imm) {
    insn(0x77, dst, 0, 0, imm);
  }

  /** {@code dst = -dst}. */
  void neg(int dst) {
    insn(0x87, dst, 0, 0, 0);
  }

  // ---- 32-bit arithmetic (the upper half of dst becomes zero) ---------------------------------

  void mov32Imm(int dst, int imm) {
    insn(0xb4, dst, 0, 0, imm);
  }

  void add32Imm(int dst, int imm) {
    insn(0x04, dst, 0, 0, imm);
  }

  // ---- byte order -----------------------------------------------------------------------------

  /**
   * {@code dst = htobe16(dst)} (BPF_END | BPF_TO_BE, the upper 48 bits cleared): on this
   * little-endian machine, swaps a value read from the wire into its number, and back.
   */
  void be16(int dst) {
    insn(0xdc, dst, 0, 0, 16);
  }

  /** {@code dst = htobe32(dst)}, the upper 32 bits cleared. */
  void be32(int dst) {
    insn(0xdc, dst, 0, 0, 32);
  }

  // ---- calls and jumps ------------------------------------------------------------------------

  void call(int helper) {
    insn(0x85, 0, 0, 0, helper);
  }

  void exit() {
    insn(0x95, 0, 0, 0, 0);
  }

  void ja(String label) {
    jump(0x05, 0, 0, 0, label);
  }

  void jeqImm(int dst, int imm, String label) {
    jump(0x15, dst, 0, imm, label);
  }

  void jeqReg(int dst, int src, String label) {
    jump(0x1d, dst, src, 0, label);
  }

  void jneImm(int dst, int imm, String label) {
    jump(0x55, dst, 0, imm, label);
  }

  void jneReg(int dst, int src, String label) {
    jump(0x5d, dst, src, 0, label);
  }

  /** Unsigned {@code dst > imm}. */
  void jgtImm(int dst, int imm, String label) {
    jump(0x25, dst, 0, imm, label);
  }

  /** Unsigned {@code dst > src}. */
  void jgtReg(int dst, int src, String label) {
    jump(0x2d, dst, src, 0, label);
  }

  /** Unsigned {@code dst < imm}. */
  void jltImm(int dst, int imm, String label) {
    jump(0xa5, dst, 0, imm, label);
  }

  /** {@code dst & imm != 0}. */
  void jsetImm(int dst, int imm, String label) {
    jump(0x45, dst, 0, imm, label);
  }

  /** {@code (u32) dst != (u32) imm} (BPF_JMP32: no sign extension of imm to 64 bits). */
  void jne32Imm(int dst, int imm, String label) {
    jump(0x56, dst, 0, imm, label);
  }

  private void jump(int code, int dst, int src, int imm, String label) {
    fixups.add(new Fixup(count, label));
    insn(code, dst, src, 0, imm);
  }

  /** Marks the next instruction as {@code name}'s target; each name once. */
  void label(String name) {
    if (labels.putIfAbsent(name, count) != null)
      throw new IllegalStateException("label " + name + " twice");
  }

  /** A label name not used before, for code emitted more than once. */
  String newLabel(String prefix) {
    return prefix + "#" + unique++;
  }

  /** The program, every jump resolved. */
  byte[] bytes() {
    byte[] b = out.toByteArray();
    for (Fixup f : fixups) {
      Integer target = labels.get(f.label());
      if (target == null) throw new IllegalStateException("no label " + f.label());
      int off = target - f.at() - 1;
      b[f.at() * 8 + 2] = (byte) off;
      b[f.at() * 8 + 3] = (byte) (off >> 8);
    }
    return b;
  }

  /** {@code value}'s 16 bits as an immediate whose little-endian store puts them on the wire. */
  static int wire16(int value) {
    return Short.toUnsignedInt(Short.reverseBytes((short) value));
  }

  /** {@code value}'s 32 bits as an immediate whose little-endian store puts them on the wire. */
  static int wire32(int value) {
    return Integer.reverseBytes(value);
  }
}
