/// Hidden state carried between windows: h (and c for LSTM) for every layer, [layers, b, H].
final class RecurrentState {
    let layers: Int
    let batch: Int
    let hidden: Int
    let h: FloatBuffer
    let c: FloatBuffer

    init(layers: Int, batch: Int, hidden: Int, lstm: Bool) {
        self.layers = layers
        self.batch = batch
        self.hidden = hidden
        h = FloatBuffer(count: layers * batch * hidden)
        c = FloatBuffer(count: lstm ? layers * batch * hidden : 0)
    }

    func reset() {
        h.zero()
        c.zero()
    }

    func hPtr(_ k: Int) -> UnsafeMutablePointer<Float> { h.ptr + k * batch * hidden }
    func cPtr(_ k: Int) -> UnsafeMutablePointer<Float> { c.count == 0 ? h.ptr : c.ptr + k * batch * hidden }

    /// This state's columns of a full-batch state [layers, B, H] (`full` holds `totalColumns` columns),
    /// in either direction: `toFull` writes ours into `full`, otherwise ours are read from it. Lets a
    /// checkpoint store every rank's carry by global column, whatever the rank count.
    func copyColumns(_ mine: FloatBuffer, _ full: UnsafeMutablePointer<Float>, totalColumns: Int, firstColumn: Int, toFull: Bool) {
        for k in 0..<layers {
            let f = full + (k * totalColumns + firstColumn) * hidden, l = mine.ptr + k * batch * hidden
            if toFull { f.update(from: l, count: batch * hidden) } else { l.update(from: f, count: batch * hidden) }
        }
    }
}
