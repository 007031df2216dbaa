/// Embedding(V, E): forward gathers rows, backward scatter-adds into the same rows of the gradient.
enum Embedding {
    static func forward(ids: UnsafePointer<Int32>, n: Int, table: UnsafePointer<Float>, dim: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim)
        }
    }

    static func backward(ids: UnsafePointer<Int32>, n: Int, dOut: UnsafePointer<Float>, dim: Int, dTable: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let d = dTable + Int(ids[i]) * dim, s = dOut + i * dim
            for k in 0..<dim { d[k] += s[k] }
        }
    }
}
