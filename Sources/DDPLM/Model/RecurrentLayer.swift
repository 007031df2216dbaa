/// One recurrent layer over a window of T steps and b columns, forward and backward side by side.
/// Forward: the input projection X W_ihᵀ + b_ih is one GEMM for the whole window; each step adds one
/// small recurrent GEMM h W_hhᵀ and the cell's pointwise math. Backward walks the window in reverse,
/// then the weight gradients are again single GEMMs over the whole window. The per-step products with
/// W_hh go through `RecurrentProducts` (the weight packed once per window).
/// All buffers are sized once for (maxT, b); rows are time-major: row t·b + j is column j at step t.
final class RecurrentLayer {
    let cell: CellType
    let input: Int
    let hidden: Int
    let gates: Int
    let batch: Int
    let maxT: Int

    // caches from forward (read by backward)
    let xw: FloatBuffer        // [T·b, G·H] input projection; reused as dGih in backward
    let act: FloatBuffer       // [T·b, G·H] activated gates
    let hs: FloatBuffer        // [(T+1)·b, H] h_{-1} (carry), h_0 … h_{T-1}
    let cs: FloatBuffer        // [(T+1)·b, H] LSTM cell states, same layout
    let tcs: FloatBuffer       // [T·b, H] LSTM tanh(c)
    let hn: FloatBuffer        // [T·b, H] GRU W_hn h + b_hn
    let hh: FloatBuffer        // [b, G·H] per-step recurrent projection
    let dGhh: FloatBuffer      // [T·b, G·H] GRU hidden-side gate grads (other cells share dGih)
    let dh: FloatBuffer        // [b, H] gradient flowing to h_{t-1}
    let dc: FloatBuffer        // [b, H] gradient flowing to c_{t-1}
    let recurrent: RecurrentProducts

    init(cell: CellType, input: Int, hidden: Int, batch: Int, maxT: Int, threads: ComputeThreads = .one) {
        self.cell = cell
        self.input = input
        self.hidden = hidden
        self.gates = cell.gates * hidden
        self.batch = batch
        self.maxT = maxT
        let rows = maxT * batch
        xw = FloatBuffer(count: rows * gates)
        act = FloatBuffer(count: rows * gates)
        hs = FloatBuffer(count: (maxT + 1) * batch * hidden)
        cs = FloatBuffer(count: cell == .lstm ? (maxT + 1) * batch * hidden : 0)
        tcs = FloatBuffer(count: cell == .lstm ? rows * hidden : 0)
        hn = FloatBuffer(count: cell == .gru ? rows * hidden : 0)
        hh = FloatBuffer(count: batch * gates)
        dGhh = FloatBuffer(count: cell == .gru ? rows * gates : 0)
        dh = FloatBuffer(count: batch * hidden)
        dc = FloatBuffer(count: batch * hidden)
        recurrent = RecurrentProducts(hidden: hidden, gates: gates, maxT: maxT, threads: threads)
    }

    /// Output rows h_0 … h_{T-1}: `hs` shifted by one block.
    var output: UnsafeMutablePointer<Float> { hs.ptr + batch * hidden }

    /// x: [T·b, input]. h0/c0: [b, H] initial state (c0 ignored unless LSTM). Leaves the final state in
    /// hs/cs row block T. The input projection's product reads W_ih alone; `restReady` runs before W_hh
    /// or a bias is read. `packs`: W_hh's (and in bf16 W_ih's) packed already (`WeightPacks`).
    func forward(t: Int, x: UnsafePointer<Float>, h0: UnsafePointer<Float>, c0: UnsafePointer<Float>,
                 wih: UnsafePointer<Float>, whh: UnsafePointer<Float>, bih: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
                 packs: (wih: WeightPacks.Entry?, whh: WeightPacks.Entry)? = nil, restReady: () -> Void = {}) {
        let b = batch, h = hidden, g = gates, rows = t * b
        RecurrentWindow.projectInputs(rows: rows, input: input, gates: g, x: x, wih: wih, bih: bih, into: xw.ptr,
                                      packs: packs?.wih, threads: recurrent.threads, biasReady: restReady)
        hs.ptr.update(from: h0, count: b * h)
        if cell == .lstm { cs.ptr.update(from: c0, count: b * h) }
        recurrent.beginForward(whh: whh, steps: t, packs: packs?.whh)
        for s in 0..<t {
            let hPrev = hs.ptr + s * b * h
            recurrent.forward(m: b, h: hPrev, into: hh.ptr)
            let xs = xw.ptr + s * b * g, a = act.ptr + s * b * g, hOut = hs.ptr + (s + 1) * b * h
            switch cell {
            case .lstm:
                LSTMCell.forward(b: b, h: h, xw: xs, hh: hh.ptr, bhh: bhh, cPrev: cs.ptr + s * b * h, act: a,
                                 c: cs.ptr + (s + 1) * b * h, tc: tcs.ptr + s * b * h, hOut: hOut)
            case .gru:
                GRUCell.forward(b: b, h: h, xw: xs, hh: hh.ptr, bhh: bhh, hPrev: hPrev, act: a,
                                hn: hn.ptr + s * b * h, hOut: hOut)
            case .rnnTanh:
                RNNTanhCell.forward(b: b, h: h, xw: xs, hh: hh.ptr, bhh: bhh, act: a, hOut: hOut)
            }
        }
    }

    /// Final state after a forward of length t.
    func finalH(t: Int) -> UnsafePointer<Float> { UnsafePointer(hs.ptr + t * batch * hidden) }
    func finalC(t: Int) -> UnsafePointer<Float> { UnsafePointer(cs.ptr + t * batch * hidden) }

    /// dOut: [T·b, H] gradient w.r.t. the layer's outputs (overwritten). Accumulates weight and bias
    /// gradients, telling `final` as each is complete (before dX, or after it with `inputGradientFirst`:
    /// `inputGradientReady` is then called on dX first, `RecurrentWindow.gradients`); writes dX ([T·b, input]) when given.
    /// The carried-in state is detached: no gradient leaves the window.
    func backward(t: Int, x: UnsafePointer<Float>, dOut: UnsafeMutablePointer<Float>, dX: UnsafeMutablePointer<Float>?,
                  wih: UnsafePointer<Float>, whh: UnsafePointer<Float>,
                  dwih: UnsafeMutablePointer<Float>, dwhh: UnsafeMutablePointer<Float>,
                  dbih: UnsafeMutablePointer<Float>, dbhh: UnsafeMutablePointer<Float>,
                  packs: (wih: WeightPacks.Entry?, whh: WeightPacks.Entry)? = nil,
                  final: (UnsafeMutablePointer<Float>, Int) -> Void = { _, _ in },
                  inputGradientFirst: Bool = false, inputGradientReady: () -> Void = {}) {
        let b = batch, h = hidden, g = gates, rows = t * b
        let dGih = xw.ptr
        let dGh = cell == .gru ? dGhh.ptr : dGih
        dh.zero()
        dc.zero()
        recurrent.beginBackward(whh: whh, steps: t, packs: packs?.whh)
        for s in stride(from: t - 1, through: 0, by: -1) {
            let dtot = dOut + s * b * h
            for i in 0..<(b * h) { dtot[i] += dh.ptr[i] }
            let a = UnsafePointer(act.ptr + s * b * g), di = dGih + s * b * g
            switch cell {
            case .lstm:
                LSTMCell.backward(b: b, h: h, dh: dtot, dc: dc.ptr, act: a, cPrev: cs.ptr + s * b * h,
                                  tc: tcs.ptr + s * b * h, dG: di)
            case .gru:
                dh.ptr.update(from: dtot, count: b * h)
                GRUCell.backward(b: b, h: h, dh: dh.ptr, act: a, hn: hn.ptr + s * b * h, hPrev: hs.ptr + s * b * h,
                                 dGih: di, dGhh: dGhh.ptr + s * b * g)
            case .rnnTanh:
                RNNTanhCell.backward(b: b, h: h, dh: dtot, act: a, dG: di)
            }
            if s > 0 { recurrent.backward(m: b, dG: dGh + s * b * g, beta: cell == .gru ? 1 : 0, into: dh.ptr) }
        }
        RecurrentWindow.gradients(rows: rows, input: input, hidden: h, gates: g, dGih: dGih, dGhh: dGh, hPrev: hs.ptr, x: x,
                                  wih: wih, dwih: dwih, dwhh: dwhh, dbih: dbih, dbhh: dbhh, dX: dX, packs: packs?.wih,
                                  threads: recurrent.threads, final: final,
                                  inputGradientFirst: inputGradientFirst, inputGradientReady: inputGradientReady)
    }
}
