import CKernels

/// A weight packed as the right-hand side of a product, B K×N: bf16 tiles (`ddplm_bf16_pack_b_parts`'s
/// layout) or float32 panels (`PackedMatrix`'s, `ddplm_pack_b_parts`). `multiply` is the product the
/// unshared path runs with that B: `gemm` under `MatmulPrecision.medium` (the bf16 GEMM packs its B the
/// same way before the same kernel), or a `PackedMatrix`'s `multiply` in float32, without packing it again.
struct PackedWeight {
    enum Storage {
        case bf16(UnsafePointer<UInt16>)
        case float32(UnsafePointer<Float>)
    }

    let k: Int
    let n: Int
    let storage: Storage

    /// C[m×N] = A[m×K]·B + beta·C, split over `threads`.
    func multiply(threads: Int, m: Int, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        switch storage {
        case .bf16(let tiles): ddplm_gemm_bf16_packed_parts(threads, m, n, k, a, lda, tiles, beta, c, ldc)
        case .float32(let panels): ddplm_gemm_packed_parts(threads, m, n, k, a, lda, panels, beta, c, ldc)
        }
    }

    /// Packs this rank's share of B's column blocks (rank r of N: blocks r·B/N ..< (r+1)·B/N) from W
    /// (`transposed`: B = Wᵀ) with row stride `ldb`, on `threads`.
    func pack(_ w: UnsafePointer<Float>, ldb: Int, transposed: Bool, rank r: Int, of ranks: Int, threads: Int) {
        switch storage {
        case .bf16(let tiles):
            let blocks = (n + 31) / 32
            ddplm_bf16_pack_b_blocks(threads, transposed ? 1 : 0, k, n, w, ldb, UnsafeMutablePointer(mutating: tiles),
                                     blocks * r / ranks, blocks * (r + 1) / ranks)
        case .float32(let panels):
            // a column range starting on a panel boundary is itself a packed matrix at panels + start·K
            let nr = Int(DDPLM_PACK_NR), blocks = (n + nr - 1) / nr
            let lo = blocks * r / ranks * nr, hi = min(blocks * (r + 1) / ranks * nr, n)
            guard hi > lo else { return }
            ddplm_pack_b_parts(threads, transposed ? 1 : 0, k, hi - lo, w + (transposed ? lo * ldb : lo), ldb,
                               UnsafeMutablePointer(mutating: panels) + lo * k)
        }
    }
}

/// The packed weight matrices of a model, for the ranks of one node that share their weights
/// (`NodeSharedWeights`): bf16 tiles when the products are bf16 (`MatmulPrecision.medium`), float32
/// panels otherwise. Every product with a packed weight packs it first: a rank with its own copy packs
/// every weight itself, twice (W for one product, Wᵀ for the other), at every step. Here the packs live
/// in node-shared memory too, and at the start of each training step every rank packs its share of every
/// weight's column blocks (`refresh`), so the node packs each weight once per step instead of once per
/// rank, and the ranks' per-step products stream one copy through the cache they share instead of one
/// each. The packs are the ones the products would have packed, so the results are the same bits.
///
/// A training step's forward and backward use them (`LanguageModel.trainStep`, after `refresh`);
/// evaluation and generation run between updates on any subset of ranks, and pack as they go.
final class WeightPacks {
    /// One weight W [rows, cols] (row-major, at `offset` in the parameters), packed twice: `transposed`
    /// (B = Wᵀ, K = cols, N = rows: x·Wᵀ) and `straight` (B = W, K = rows, N = cols: d·W).
    struct Entry {
        let offset: Int
        let transposed: PackedWeight
        let straight: PackedWeight
        /// W's row stride.
        var cols: Int { transposed.k }
    }

    let entries: [Entry]
    private let comm: Communicator

    /// The packs of the weights [rows, cols] at `offsets`, in node-shared memory, in the precision of
    /// `MatmulPrecision.current`: nil when the communicator has none (a collective).
    init?(weights: [(offset: Int, rows: Int, cols: Int)], comm: Communicator) throws {
        let bf16 = MatmulPrecision.current == .medium
        // bytes of B K×N packed, each matrix on a cache line (bf16: whole 32 × 32 tiles of 2 KB; float32:
        // panels rounded up to 16 floats)
        func bytes(k: Int, n: Int) -> Int { bf16 ? ddplm_bf16_packed_size(k, n) * 2 : (ddplm_packed_size(k, n) + 15) / 16 * 64 }
        let total = weights.reduce(0) { $0 + bytes(k: $1.cols, n: $1.rows) + bytes(k: $1.rows, n: $1.cols) }
        guard let memory = try comm.allocateNodeShared(bytes: max(total, 1)) else { return nil }
        var at = memory
        func packed(k: Int, n: Int) -> PackedWeight {
            defer { at += bytes(k: k, n: n) }
            return PackedWeight(k: k, n: n, storage: bf16 ? .bf16(UnsafePointer(at.assumingMemoryBound(to: UInt16.self)))
                                                             : .float32(UnsafePointer(at.assumingMemoryBound(to: Float.self))))
        }
        entries = weights.map { w in
            Entry(offset: w.offset, transposed: packed(k: w.cols, n: w.rows), straight: packed(k: w.rows, n: w.cols))
        }
        self.comm = comm
    }

    /// Packs this rank's share of every weight's column blocks from `params` (rank r of N: blocks
    /// r·B/N ..< (r+1)·B/N of each matrix's B), on `threads`, then waits for every rank's (a barrier).
    /// A collective, once the weights are final for the step: every rank's earlier products with the
    /// packs are over (the step's exchange came between).
    func refresh(_ params: UnsafePointer<Float>, threads: Int) throws {
        for e in entries {
            e.transposed.pack(params + e.offset, ldb: e.cols, transposed: true, rank: comm.rank, of: comm.size, threads: threads)
            e.straight.pack(params + e.offset, ldb: e.cols, transposed: false, rank: comm.rank, of: comm.size, threads: threads)
        }
        try comm.barrier()
    }

    /// The packs of the weight at `offset`.
    func entry(at offset: Int) -> Entry {
        guard let e = entries.first(where: { $0.offset == offset }) else { preconditionFailure("no packed weight at \(offset)") }
        return e
    }
}
