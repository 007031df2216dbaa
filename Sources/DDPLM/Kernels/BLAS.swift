import CBLAS

/// Row-major single-precision GEMM: C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C.
/// The only way the model multiplies matrices; `naiveGemm` is its twin for the tests.
@inline(__always)
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    ddplm_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The textbook triple loop, in Double, for checking `gemm`.
public func naiveGemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            c[i * ldc + j] = Float(Double(alpha) * s + prior)
        }
    }
}

/// What OpenBLAS is doing: which kernel family it picked, and how many threads it uses.
public enum BLASInfo {
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p).trimmingCharactersIn(" \n")
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// A few odd-shaped products (all four transpose combinations) against the Double reference
    /// `naiveGemm`: whether the kernels OpenBLAS loaded compute correctly on this CPU.
    public static func sgemmAgreesWithReference() -> Bool {
        var rng = SplitMix64(seed: 7)
        let m = 37, n = 129, k = 71
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n)
        for i in 0..<a.count { a[i] = rng.nextFloat() * 2 - 1 }
        for i in 0..<b.count { b[i] = rng.nextFloat() * 2 - 1 }
        let c1 = FloatBuffer(count: m * n), c2 = FloatBuffer(count: m * n)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let lda = ta ? m : k, ldb = tb ? k : n
            gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: 0, c: c1.ptr, ldc: n)
            naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: 0, c: c2.ptr, ldc: n)
            for i in 0..<(m * n) where !(abs(c1[i] - c2[i]) <= 1e-4 * Float(k)) { return false }
        }
        return true
    }
}

extension String {
    func trimmingCharactersIn(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
