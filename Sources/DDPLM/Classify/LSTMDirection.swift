/// One direction of one bidirectional LSTM layer over documents of different lengths, with PyTorch's
/// packed-sequence semantics: document j runs over its own length L_j only — forward over s = 0 … L_j−1,
/// reverse over s = L_j−1 … 0, both from a zero state — so padding never touches a result.
///
/// Columns are sorted longest first, so at time s the running documents are columns 0 ..< active[s] and
/// the recurrent GEMM covers just those rows. Rows are time-major (row s·b + j). States live in slots:
/// the state after time s is slot s+1 (forward) or slot s (reverse); the zero initial state is slot 0
/// (forward) or slot t (reverse). Rows of a slot past the running documents are kept at zero, so the
/// whole-window weight-gradient GEMMs (as in `RecurrentLayer`) can run over every row. The per-step
/// products with W_hh go through `RecurrentProducts`.
final class LSTMDirection {
    let input: Int
    let hidden: Int
    let maxColumns: Int
    let maxT: Int
    let reverse: Bool

    let xw: FloatBuffer     // [t·b, 4H] input projection; the gate gradients in backward
    let act: FloatBuffer    // [t·b, 4H] activated gates
    let hs: FloatBuffer     // [(t+1)·b, H] states by slot
    let cs: FloatBuffer     // [(t+1)·b, H]
    let tcs: FloatBuffer    // [t·b, H] tanh(c)
    let hh: FloatBuffer     // [b, 4H] recurrent projection of one step
    let dh: FloatBuffer     // [b, H] gradient flowing to the previous state's h
    let dc: FloatBuffer     // [b, H] … and c
    let dtot: FloatBuffer   // [b, H] total gradient of one step's output
    let recurrent: RecurrentProducts

    init(input: Int, hidden: Int, maxColumns: Int, maxT: Int, reverse: Bool, threads: ComputeThreads) {
        self.input = input
        self.hidden = hidden
        self.maxColumns = maxColumns
        self.maxT = maxT
        self.reverse = reverse
        let rows = maxT * maxColumns, g = 4 * hidden
        xw = FloatBuffer(count: rows * g)
        act = FloatBuffer(count: rows * g)
        hs = FloatBuffer(count: (maxT + 1) * maxColumns * hidden)
        cs = FloatBuffer(count: (maxT + 1) * maxColumns * hidden)
        tcs = FloatBuffer(count: rows * hidden)
        hh = FloatBuffer(count: maxColumns * g)
        dh = FloatBuffer(count: maxColumns * hidden)
        dc = FloatBuffer(count: maxColumns * hidden)
        dtot = FloatBuffer(count: maxColumns * hidden)
        recurrent = RecurrentProducts(hidden: hidden, gates: g, maxT: maxT, threads: threads)
    }

    @inline(__always) private func prevSlot(_ s: Int) -> Int { reverse ? s + 1 : s }
    @inline(__always) private func outSlot(_ s: Int) -> Int { reverse ? s : s + 1 }

    /// Final state of column j (its last step in this direction's order).
    func finalH(_ batch: DocumentBatch, column j: Int) -> UnsafePointer<Float> {
        let slot = reverse ? 0 : Int(batch.lengths[j])
        return UnsafePointer(hs.ptr + (slot * batch.columns + j) * hidden)
    }

    /// x: [t·b, input]. Writes each step's h into out (row stride ldOut; rows of finished documents get 0).
    /// The input projection's product reads W_ih alone; `restReady` runs before W_hh or a bias is read.
    func forward(_ batch: DocumentBatch, x: UnsafePointer<Float>, wih: UnsafePointer<Float>, whh: UnsafePointer<Float>,
                 bih: UnsafePointer<Float>, bhh: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, ldOut: Int,
                 restReady: () -> Void = {}) {
        let b = batch.columns, t = batch.t, h = hidden, g = 4 * hidden, rows = t * b
        RecurrentWindow.projectInputs(rows: rows, input: input, gates: g, x: x, wih: wih, bih: bih, into: xw.ptr,
                                      biasReady: restReady)
        let initial = reverse ? t : 0
        (hs.ptr + initial * b * h).update(repeating: 0, count: b * h)
        (cs.ptr + initial * b * h).update(repeating: 0, count: b * h)
        recurrent.beginForward(whh: whh, steps: t)
        for p in 0..<t {
            let s = reverse ? t - 1 - p : p
            let n = Int(batch.active[s])
            let hPrev = hs.ptr + prevSlot(s) * b * h, cPrev = cs.ptr + prevSlot(s) * b * h
            let hOut = hs.ptr + outSlot(s) * b * h, cOut = cs.ptr + outSlot(s) * b * h
            recurrent.forward(m: n, h: hPrev, into: hh.ptr)
            LSTMCell.forward(b: n, h: h, xw: xw.ptr + s * b * g, hh: hh.ptr, bhh: bhh, cPrev: cPrev, act: act.ptr + s * b * g,
                             c: cOut, tc: tcs.ptr + s * b * h, hOut: hOut)
            (hOut + n * h).update(repeating: 0, count: (b - n) * h)
            (cOut + n * h).update(repeating: 0, count: (b - n) * h)
            for j in 0..<b {
                (out + (s * b + j) * ldOut).update(from: hOut + j * h, count: h)
            }
        }
    }

    /// dOut: gradient of each step's output (row stride ldOut), or nil when only the final states were
    /// used. dFinal: [b, H] gradient of the final states, or nil. Accumulates the weight gradients; writes
    /// (beta 0) or adds (beta 1) the input gradient into dX [t·b, input].
    func backward(_ batch: DocumentBatch, x: UnsafePointer<Float>, dOut: UnsafePointer<Float>?, ldOut: Int,
                  dFinal: UnsafePointer<Float>?, wih: UnsafePointer<Float>, whh: UnsafePointer<Float>,
                  dwih: UnsafeMutablePointer<Float>, dwhh: UnsafeMutablePointer<Float>,
                  dbih: UnsafeMutablePointer<Float>, dbhh: UnsafeMutablePointer<Float>,
                  dX: UnsafeMutablePointer<Float>, dXBeta: Float) {
        let b = batch.columns, t = batch.t, h = hidden, g = 4 * hidden, rows = t * b
        let dG = xw.ptr
        // a document's final state is the first state the backward pass meets in its column: start dh there
        if let dFinal { dh.ptr.update(from: dFinal, count: b * h) } else { dh.zero() }
        dc.zero()
        recurrent.beginBackward(whh: whh, steps: t)
        for p in stride(from: t - 1, through: 0, by: -1) {
            let s = reverse ? t - 1 - p : p
            let n = Int(batch.active[s])
            let d = dtot.ptr
            for j in 0..<n {
                let dj = d + j * h, hj = dh.ptr + j * h
                if let dOut {
                    let o = dOut + (s * b + j) * ldOut
                    for k in 0..<h { dj[k] = o[k] + hj[k] }
                } else {
                    dj.update(from: hj, count: h)
                }
            }
            let dGs = dG + s * b * g
            LSTMCell.backward(b: n, h: h, dh: d, dc: dc.ptr, act: act.ptr + s * b * g, cPrev: cs.ptr + prevSlot(s) * b * h,
                              tc: tcs.ptr + s * b * h, dG: dGs)
            (dGs + n * g).update(repeating: 0, count: (b - n) * g)
            // the previous state: forward, the same n documents; reverse, only those already running
            if p > 0 {
                let prevRows = reverse ? Int(batch.active[s + 1]) : n
                recurrent.backward(m: prevRows, dG: dGs, beta: 0, into: dh.ptr)
            }
        }
        let firstPrev = reverse ? 1 : 0
        RecurrentWindow.gradients(rows: rows, input: input, hidden: h, gates: g, dGih: dG, dGhh: dG, hPrev: hs.ptr + firstPrev * b * h,
                                  x: x, wih: wih, dwih: dwih, dwhh: dwhh, dbih: dbih, dbhh: dbhh, dX: dX, dXBeta: dXBeta)
    }
}
