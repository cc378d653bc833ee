//go:build amd64

#include "textflag.h"

// AVX2 element-wise kernels for the merge loops. Each processes n elements,
// n a multiple of 32 (the Go wrappers handle the rest), with separate multiply
// and add instructions (no FMA) so results are bit-identical to the Go loops.
// Operands may be unaligned.

// func axpyAVX2(dst, x *float32, n int, a float32)
// dst[i] = dst[i] + a*x[i]
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y0
	SHRQ $5, CX
	JZ axpy_done
axpy_loop:
	VMULPS (SI), Y0, Y1
	VMULPS 32(SI), Y0, Y2
	VMULPS 64(SI), Y0, Y3
	VMULPS 96(SI), Y0, Y4
	VADDPS (DI), Y1, Y1
	VADDPS 32(DI), Y2, Y2
	VADDPS 64(DI), Y3, Y3
	VADDPS 96(DI), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ axpy_loop
axpy_done:
	VZEROUPPER
	RET

// func scaleIntoAVX2(dst, x *float32, n int, a float32)
// dst[i] = a*x[i]
TEXT ·scaleIntoAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y0
	SHRQ $5, CX
	JZ scale_done
scale_loop:
	VMULPS (SI), Y0, Y1
	VMULPS 32(SI), Y0, Y2
	VMULPS 64(SI), Y0, Y3
	VMULPS 96(SI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ scale_loop
scale_done:
	VZEROUPPER
	RET

// func axpyDiffAVX2(acc, x, b *float32, n int, w float32)
// acc[i] = acc[i] + w*(x[i]-b[i])
TEXT ·axpyDiffAVX2(SB), NOSPLIT, $0-36
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS w+32(FP), Y0
	SHRQ $5, CX
	JZ diff_done
diff_loop:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VSUBPS (DX), Y1, Y1
	VSUBPS 32(DX), Y2, Y2
	VSUBPS 64(DX), Y3, Y3
	VSUBPS 96(DX), Y4, Y4
	VMULPS Y0, Y1, Y1
	VMULPS Y0, Y2, Y2
	VMULPS Y0, Y3, Y3
	VMULPS Y0, Y4, Y4
	VADDPS (DI), Y1, Y1
	VADDPS 32(DI), Y2, Y2
	VADDPS 64(DI), Y3, Y3
	VADDPS 96(DI), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ diff_loop
diff_done:
	VZEROUPPER
	RET

// func addIntoAVX2(dst, x, y *float32, n int)
// dst[i] = x[i] + y[i]
TEXT ·addIntoAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $5, CX
	JZ add_done
add_loop:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VADDPS (DX), Y1, Y1
	VADDPS 32(DX), Y2, Y2
	VADDPS 64(DX), Y3, Y3
	VADDPS 96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ add_loop
add_done:
	VZEROUPPER
	RET

// func electSignAVX2(sg, v *float32, n int)
// sg[i] = -1 if v[i] < 0 else +1 (NaN elects +1)
TEXT ·electSignAVX2(SB), NOSPLIT, $0-24
	MOVQ sg+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x3f800000, AX
	MOVL AX, X0
	VBROADCASTSS X0, Y0          // +1
	MOVL $0x80000000, AX
	MOVL AX, X1
	VBROADCASTSS X1, Y1          // sign bit
	VXORPS Y2, Y2, Y2            // zero
	SHRQ $5, CX
	JZ sign_done
sign_loop:
	VCMPPS $0x0e, (SI), Y2, Y3   // 0 > v (ordered: false for NaN)
	VCMPPS $0x0e, 32(SI), Y2, Y4
	VCMPPS $0x0e, 64(SI), Y2, Y5
	VCMPPS $0x0e, 96(SI), Y2, Y6
	VANDPS Y1, Y3, Y3
	VANDPS Y1, Y4, Y4
	VANDPS Y1, Y5, Y5
	VANDPS Y1, Y6, Y6
	VXORPS Y0, Y3, Y3
	VXORPS Y0, Y4, Y4
	VXORPS Y0, Y5, Y5
	VXORPS Y0, Y6, Y6
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, 32(DI)
	VMOVUPS Y5, 64(DI)
	VMOVUPS Y6, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ sign_loop
sign_done:
	VZEROUPPER
	RET

// func disjointAccAVX2(num, den, x, sg *float32, n int, w float32)
// v = w*x[i]; agree iff the bits of v*sg[i], read as int32, are > 0;
// num[i] += agree ? v : +0; den[i] += agree ? w : +0.
TEXT ·disjointAccAVX2(SB), NOSPLIT, $0-44
	MOVQ num+0(FP), DI
	MOVQ den+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ sg+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSS w+40(FP), Y0
	VPXOR Y15, Y15, Y15
	SHRQ $4, CX
	JZ dis_done
dis_loop:
	VMULPS (SI), Y0, Y1          // v
	VMULPS 32(SI), Y0, Y2
	VMULPS (DX), Y1, Y3          // v*sg
	VMULPS 32(DX), Y2, Y4
	VPCMPGTD Y15, Y3, Y3         // int32(v*sg) > 0
	VPCMPGTD Y15, Y4, Y4
	VANDPS Y3, Y1, Y1
	VANDPS Y4, Y2, Y2
	VADDPS (DI), Y1, Y1
	VADDPS 32(DI), Y2, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VANDPS Y3, Y0, Y3
	VANDPS Y4, Y0, Y4
	VADDPS (R8), Y3, Y3
	VADDPS 32(R8), Y4, Y4
	VMOVUPS Y3, (R8)
	VMOVUPS Y4, 32(R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ dis_loop
dis_done:
	VZEROUPPER
	RET

// func maskAboveAVX2(dst, x *float32, n int, thr float32)
// dst[i] = x[i] if |x[i]| > thr else +0 (NaN gives +0)
TEXT ·maskAboveAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS thr+24(FP), Y0
	MOVL $0x7fffffff, AX
	MOVL AX, X1
	VBROADCASTSS X1, Y1          // magnitude mask
	SHRQ $5, CX
	JZ mask_done
mask_loop:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VMOVUPS 64(SI), Y4
	VMOVUPS 96(SI), Y5
	VANDPS Y1, Y2, Y6
	VANDPS Y1, Y3, Y7
	VANDPS Y1, Y4, Y8
	VANDPS Y1, Y5, Y9
	VCMPPS $0x1e, Y0, Y6, Y6     // |x| > thr (ordered: false for NaN)
	VCMPPS $0x1e, Y0, Y7, Y7
	VCMPPS $0x1e, Y0, Y8, Y8
	VCMPPS $0x1e, Y0, Y9, Y9
	VANDPS Y6, Y2, Y2
	VANDPS Y7, Y3, Y3
	VANDPS Y8, Y4, Y4
	VANDPS Y9, Y5, Y5
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	VMOVUPS Y4, 64(DI)
	VMOVUPS Y5, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ mask_loop
mask_done:
	VZEROUPPER
	RET

// func divOrZeroAVX2(dst, num, den *float32, n int)
// dst[i] = num[i]/den[i] if den[i] != 0 else +0
TEXT ·divOrZeroAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ num+8(FP), SI
	MOVQ den+16(FP), DX
	MOVQ n+24(FP), CX
	VXORPS Y0, Y0, Y0
	SHRQ $5, CX
	JZ div_done
div_loop:
	VMOVUPS (DX), Y1
	VMOVUPS 32(DX), Y2
	VMOVUPS 64(DX), Y3
	VMOVUPS 96(DX), Y4
	VMOVUPS (SI), Y5
	VMOVUPS 32(SI), Y6
	VMOVUPS 64(SI), Y7
	VMOVUPS 96(SI), Y8
	VDIVPS Y1, Y5, Y5
	VDIVPS Y2, Y6, Y6
	VDIVPS Y3, Y7, Y7
	VDIVPS Y4, Y8, Y8
	VCMPPS $0x04, Y0, Y1, Y1     // den != 0 (unordered: true for NaN)
	VCMPPS $0x04, Y0, Y2, Y2
	VCMPPS $0x04, Y0, Y3, Y3
	VCMPPS $0x04, Y0, Y4, Y4
	VANDPS Y1, Y5, Y5
	VANDPS Y2, Y6, Y6
	VANDPS Y3, Y7, Y7
	VANDPS Y4, Y8, Y8
	VMOVUPS Y5, (DI)
	VMOVUPS Y6, 32(DI)
	VMOVUPS Y7, 64(DI)
	VMOVUPS Y8, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ div_loop
div_done:
	VZEROUPPER
	RET

// func subIntoAVX2(dst, x, y *float32, n int)
// dst[i] = x[i] - y[i]
TEXT ·subIntoAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $5, CX
	JZ sub_done
sub_loop:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VSUBPS (DX), Y1, Y1
	VSUBPS 32(DX), Y2, Y2
	VSUBPS 64(DX), Y3, Y3
	VSUBPS 96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ sub_loop
sub_done:
	VZEROUPPER
	RET

// func reluAVX2(dst, x *float32, n int)
// dst[i] = x[i] if !(x[i] <= 0) else +0: max(x, 0) with NaN kept, -0 to +0
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	SHRQ $5, CX
	JZ relu_done
relu_loop:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VCMPPS $0x06, Y0, Y1, Y5     // !(x <= 0): x > 0 or NaN
	VCMPPS $0x06, Y0, Y2, Y6
	VCMPPS $0x06, Y0, Y3, Y7
	VCMPPS $0x06, Y0, Y4, Y8
	VANDPS Y5, Y1, Y1
	VANDPS Y6, Y2, Y2
	VANDPS Y7, Y3, Y3
	VANDPS Y8, Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ relu_loop
relu_done:
	VZEROUPPER
	RET

// func reluGradAVX2(dx, dy, x *float32, n int)
// dx[i] = dy[i] if x[i] > 0 else +0 (NaN gives +0)
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	VXORPS Y0, Y0, Y0
	SHRQ $5, CX
	JZ rgrad_done
rgrad_loop:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VCMPPS $0x1e, Y0, Y1, Y1     // x > 0 (ordered)
	VCMPPS $0x1e, Y0, Y2, Y2
	VCMPPS $0x1e, Y0, Y3, Y3
	VCMPPS $0x1e, Y0, Y4, Y4
	VANDPS (DX), Y1, Y1
	VANDPS 32(DX), Y2, Y2
	VANDPS 64(DX), Y3, Y3
	VANDPS 96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ rgrad_loop
rgrad_done:
	VZEROUPPER
	RET

// func transposePack8AVX2(dst *float32, w int, src *float32, ld int, blocks int)
// For p in [0, 8*blocks) and r in [0, 8): dst[p*w+r] = src[r*ld+p], one 8×8
// transpose per block (rows of src become interleaved columns of dst).
TEXT ·transposePack8AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), R11
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R8
	MOVQ blocks+32(FP), CX
	SHLQ $2, R11                 // w in bytes
	SHLQ $2, R8                  // ld in bytes
	LEAQ (R8)(R8*2), R9          // 3·ld
	LEAQ (SI)(R8*4), R10         // row 4
	LEAQ (R11)(R11*2), R12       // 3·w
	LEAQ (DI)(R11*4), R13        // dst + 4·w
	MOVQ R11, R14
	SHLQ $3, R14                 // 8·w: dst step per block
	TESTQ CX, CX
	JEQ tp_done
tp_loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R11*1)
	VMOVUPS Y10, (DI)(R11*2)
	VMOVUPS Y11, (DI)(R12*1)
	VMOVUPS Y12, (R13)
	VMOVUPS Y13, (R13)(R11*1)
	VMOVUPS Y14, (R13)(R11*2)
	VMOVUPS Y15, (R13)(R12*1)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ R14, DI
	ADDQ R14, R13
	DECQ CX
	JNZ tp_loop
tp_done:
	VZEROUPPER
	RET

// func bracketScanAVX2(x *float32, n int, lo, hi float32, out *float32) (above, m int)
// Over n elements (n a multiple of 8): above counts |x| > hi; every |x| with
// lo ≤ |x| ≤ hi is appended to out in index order and counted in m. NaN is
// neither.
TEXT ·bracketScanAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS lo+16(FP), Y0
	VBROADCASTSS hi+20(FP), Y1
	MOVQ out+24(FP), DI
	MOVL $0x7fffffff, AX
	MOVL AX, X2
	VBROADCASTSS X2, Y2          // magnitude mask
	XORQ R8, R8                  // above
	XORQ R9, R9                  // m
	XORQ R10, R10                // element index of the block
	SHRQ $3, CX
	JZ bs_done
bs_loop:
	VANDPS (SI)(R10*4), Y2, Y3   // |x|
	VCMPPS $0x1e, Y1, Y3, Y4     // |x| > hi
	VMOVMSKPS Y4, AX
	POPCNTL AX, AX
	ADDQ AX, R8
	VCMPPS $0x1d, Y0, Y3, Y5     // |x| >= lo
	VCMPPS $0x12, Y1, Y3, Y6     // |x| <= hi
	VANDPS Y6, Y5, Y5
	VMOVMSKPS Y5, BX
	TESTL BX, BX
	JEQ bs_next
bs_extract:
	TZCNTL BX, DX
	LEAQ (R10)(DX*1), R11
	MOVL (SI)(R11*4), AX
	ANDL $0x7fffffff, AX
	MOVL AX, (DI)(R9*4)
	INCQ R9
	BLSRL BX, BX
	JNZ bs_extract
bs_next:
	ADDQ $8, R10
	DECQ CX
	JNZ bs_loop
bs_done:
	MOVQ R8, above+32(FP)
	MOVQ R9, m+40(FP)
	VZEROUPPER
	RET
