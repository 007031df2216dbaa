import CBLAS

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
            sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: 0, c: c1.ptr, ldc: n)
            naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.ptr, lda: lda, b: b.ptr, ldb: ldb, beta: 0, c: c2.ptr, ldc: n)
            for i in 0..<(m * n) where !(abs(c1[i] - c2[i]) <= 1e-4 * Float(k)) { return false }
        }
        return true
    }
}

private extension String {
    func trimmingCharactersIn(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
