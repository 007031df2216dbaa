import CKernels

/// A weight's bf16 tiles, packed as the right-hand side of a product (`ddplm_bf16_pack_b_parts`'s layout):
/// B is K×N. `multiply` is `gemm` with that B under `MatmulPrecision.medium`, the same arithmetic (the bf16
/// GEMM packs its B the same way before the same kernel), without packing it again.
struct PackedWeight {
    let k: Int
    let n: Int
    let tiles: UnsafePointer<UInt16>

    /// C[m×N] = A[m×K]·B + beta·C, split over `threads`.
    func multiply(threads: Int, m: Int, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        ddplm_gemm_bf16_packed_parts(threads, m, n, k, a, lda, tiles, beta, c, ldc)
    }
}

/// The bf16 tiles of a model's weight matrices, for the ranks of one node that share their weights
/// (`NodeSharedWeights`) and multiply in bf16 (`MatmulPrecision.medium`). Every product with a weight packs
/// that weight into tiles first: a rank with its own copy packs every weight itself, twice (W for one
/// product, Wᵀ for the other), at every step. Here the tiles live in node-shared memory too, and at the
/// start of each training step every rank packs its share of every weight's column blocks (`refresh`),
/// so the node packs each weight once per step instead of once per rank. The tiles are the ones the
/// products would have packed, so the results are the same bits.
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

    /// The tiles of the weights [rows, cols] at `offsets`, in node-shared memory: nil when the
    /// communicator has none (a collective).
    init?(weights: [(offset: Int, rows: Int, cols: Int)], comm: Communicator) throws {
        // a packed matrix is whole 32 × 32 tiles (2 KB), so each one starts on a cache line
        let size = { (w: (offset: Int, rows: Int, cols: Int)) in ddplm_bf16_packed_size(w.cols, w.rows) }
        let total = weights.reduce(0) { $0 + 2 * size($1) }
        guard let memory = try comm.allocateNodeShared(bytes: max(total, 1) * 2) else { return nil }
        var at = memory.bindMemory(to: UInt16.self, capacity: max(total, 1))
        entries = weights.map { w in
            defer { at += 2 * size(w) }
            return Entry(offset: w.offset, transposed: PackedWeight(k: w.cols, n: w.rows, tiles: at),
                         straight: PackedWeight(k: w.rows, n: w.cols, tiles: at + size(w)))
        }
        self.comm = comm
    }

    /// Packs this rank's share of every weight's column blocks from `params` (rank r of N: blocks
    /// r·B/N ..< (r+1)·B/N of each matrix's B), on `threads`, then waits for every rank's (a barrier).
    /// A collective, once the weights are final for the step: every rank's earlier products with the
    /// tiles are over (the step's exchange came between).
    func refresh(_ params: UnsafePointer<Float>, threads: Int) throws {
        let r = comm.rank, n = comm.size
        func pack(_ b: PackedWeight, _ w: UnsafePointer<Float>, ldb: Int, transposed: Int32) {
            let blocks = (b.n + 31) / 32
            ddplm_bf16_pack_b_blocks(threads, transposed, b.k, b.n, w, ldb, UnsafeMutablePointer(mutating: b.tiles),
                                     blocks * r / n, blocks * (r + 1) / n)
        }
        for e in entries {
            pack(e.transposed, params + e.offset, ldb: e.cols, transposed: 1)
            pack(e.straight, params + e.offset, ldb: e.cols, transposed: 0)
        }
        try comm.barrier()
    }

    /// The packs of the weight at `offset`.
    func entry(at offset: Int) -> Entry {
        guard let e = entries.first(where: { $0.offset == offset }) else { preconditionFailure("no packed weight at \(offset)") }
        return e
    }
}
