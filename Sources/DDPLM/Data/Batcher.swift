/// torchtext BPTTIterator batching. The id stream is cut into `batch` equal contiguous columns (the tail
/// that does not fill a column is dropped): data[i][j] = ids[j·rows + i]. Windows start at rows 0, bptt,
/// 2·bptt, …; window k has x = rows [s, s+T) and y = rows [s+1, s+1+T), T = min(bptt, rows−1−s), so the
/// last window may be shorter.
///
/// Data parallelism takes columns: rank r of n owns columns r·b … (r+1)·b−1 (b = batch/n), one
/// contiguous stretch of the text, and `fill` copies just those.
public struct Batcher {
    let ids: [Int32]
    let batch: Int
    let bptt: Int
    let rows: Int

    public init(ids: [Int32], batch: Int, bptt: Int, name: String = "corpus") throws {
        guard batch > 0, bptt > 0 else { throw DDPLMError("batch and bptt must be positive") }
        let rows = ids.count / batch
        guard rows >= bptt + 1 else {
            throw DDPLMError("\(name) is too short: \(ids.count) tokens, but batch \(batch) × (bptt \(bptt) + 1) = \(batch * (bptt + 1)) are needed for one window")
        }
        self.ids = ids
        self.batch = batch
        self.bptt = bptt
        self.rows = rows
    }

    var windowCount: Int { (rows - 1 + bptt - 1) / bptt }

    /// (start row, length) of window k.
    func window(_ k: Int) -> (start: Int, length: Int) {
        let s = k * bptt
        return (s, min(bptt, rows - 1 - s))
    }

    /// Copies window k's inputs and targets for columns [firstColumn, firstColumn + columns) into x and y,
    /// laid out time-major: x[t·columns + j]. Returns the window length T.
    @discardableResult
    func fill(window k: Int, firstColumn: Int, columns: Int,
                     x: UnsafeMutablePointer<Int32>, y: UnsafeMutablePointer<Int32>) -> Int {
        let (s, t) = window(k)
        ids.withUnsafeBufferPointer { p in
            for j in 0..<columns {
                let col = p.baseAddress! + (firstColumn + j) * rows + s
                for i in 0..<t {
                    x[i * columns + j] = col[i]
                    y[i * columns + j] = col[i + 1]
                }
            }
        }
        return t
    }
}
