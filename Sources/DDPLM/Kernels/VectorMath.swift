/// Vectorised elementwise math on SIMD16<Float>: exp, sigmoid, tanh, and the fused softmax–cross-entropy
/// row kernel. libm's scalar expf would cost ~0.35 s per training step at V = 50002; these run the same
/// 80M exps in a few tens of milliseconds. `Tests/DDPLMTests/VectorMathTests` compares them with libm.

public typealias F16 = SIMD16<Float>

/// exp(x) to ~2 ulp for x in [-87, 88]; below that it flushes to 0, above it saturates near FLT_MAX.
@inline(__always)
public func simdExp(_ x0: F16) -> F16 {
    let x = x0.clamped(lowerBound: F16(repeating: -87.0), upperBound: F16(repeating: 88.0))
    // n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for precision)
    let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
    var r = x - n * 0.693_359_375
    r = r - n * (-2.121_944_4e-4)
    // exp(r) on [-ln2/2, ln2/2]: degree-6 minimax polynomial (Cephes expf)
    var p = F16(repeating: 1.987_569_1e-4)
    p = p * r + 1.398_199_9e-3
    p = p * r + 8.333_452e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    p = p * r * r + r + 1
    // scale by 2^n through the exponent bits
    let bits = (SIMD16<Int32>(n) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: F16.self)
}

@inline(__always)
public func simdSigmoid(_ x: F16) -> F16 { 1 / (1 + simdExp(-x)) }

@inline(__always)
public func simdTanh(_ x: F16) -> F16 {
    // tanh(x) = 1 - 2/(exp(2x)+1): exact at 0, saturates cleanly, absolute error ~1e-7.
    1 - 2 / (simdExp(x + x) + 1)
}

/// Applies `f` to n floats from src into dst (may alias), 16 at a time; the tail goes through the same
/// SIMD code on a padded vector so every element gets bit-identical math.
@inline(__always)
public func mapSIMD(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (F16) -> F16) {
    var i = 0
    let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
    while i + 16 <= n {
        d.storeBytes(of: f(s.loadUnaligned(fromByteOffset: i * 4, as: F16.self)), toByteOffset: i * 4, as: F16.self)
        i += 16
    }
    if i < n {
        var v = F16()
        for j in 0..<(n - i) { v[j] = src[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { dst[i + j] = r[j] }
    }
}

public func vexp(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { mapSIMD(src, dst, n, simdExp) }
public func vsigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { mapSIMD(src, dst, n, simdSigmoid) }
public func vtanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) { mapSIMD(src, dst, n, simdTanh) }

/// One row of the fused decoder softmax–cross-entropy.
/// On entry `row` holds the V logits without bias; on exit it holds scale·(softmax − onehot(target)),
/// i.e. dLoss/dlogits for a loss of scale·CE. The bias is added on the way in, and the row's gradient is
/// accumulated into `dbias` on the way out (when given). Returns the row's CE, −log softmax[target].
@inline(__always)
public func softmaxCrossEntropyRow(
    _ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>, target: Int,
    scale: Float, dbias: UnsafeMutablePointer<Float>?
) -> Double {
    let r = UnsafeMutableRawPointer(row), b = UnsafeRawPointer(bias)
    let vec = v & ~15
    // pass 1: add bias, find max
    var mx = F16(repeating: -.infinity)
    var i = 0
    while i < vec {
        let x = r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) + b.loadUnaligned(fromByteOffset: i * 4, as: F16.self)
        r.storeBytes(of: x, toByteOffset: i * 4, as: F16.self)
        mx = pointwiseMax(mx, x)
        i += 16
    }
    var m = mx.max()
    while i < v { row[i] += bias[i]; m = Swift.max(m, row[i]); i += 1 }
    let logitTarget = row[target]
    // pass 2: e = exp(x - max) in place, sum
    var acc = F16()
    let mv = F16(repeating: m)
    i = 0
    while i < vec {
        let e = simdExp(r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) - mv)
        r.storeBytes(of: e, toByteOffset: i * 4, as: F16.self)
        acc += e
        i += 16
    }
    var sum = Double(acc.sum())
    if i < v {
        mapSIMD(row + i, row + i, v - i) { simdExp($0 - mv) }
        while i < v { sum += Double(row[i]); i += 1 }
    }
    let loss = (Double(m) - Double(logitTarget)) + _log(sum)
    // pass 3: d = e · scale/sum, minus scale at the target; accumulate dbias
    let k = Float(Double(scale) / sum)
    let kv = F16(repeating: k)
    i = 0
    if let db = dbias {
        let dbr = UnsafeMutableRawPointer(db)
        while i < vec {
            let d = r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) * kv
            r.storeBytes(of: d, toByteOffset: i * 4, as: F16.self)
            dbr.storeBytes(of: dbr.loadUnaligned(fromByteOffset: i * 4, as: F16.self) + d, toByteOffset: i * 4, as: F16.self)
            i += 16
        }
        while i < v { row[i] *= k; db[i] += row[i]; i += 1 }
        row[target] -= scale
        db[target] -= scale
    } else {
        while i < vec {
            r.storeBytes(of: r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) * kv, toByteOffset: i * 4, as: F16.self)
            i += 16
        }
        while i < v { row[i] *= k; i += 1 }
        row[target] -= scale
    }
    return loss
}

/// Loss only (no gradient): log-sum-exp(row + bias) − (row + bias)[target]. Leaves `row` = row + bias.
@inline(__always)
public func crossEntropyRow(_ row: UnsafeMutablePointer<Float>, _ v: Int, bias: UnsafePointer<Float>, target: Int) -> Double {
    let r = UnsafeMutableRawPointer(row), b = UnsafeRawPointer(bias)
    let vec = v & ~15
    var mx = F16(repeating: -.infinity)
    var i = 0
    while i < vec {
        let x = r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) + b.loadUnaligned(fromByteOffset: i * 4, as: F16.self)
        r.storeBytes(of: x, toByteOffset: i * 4, as: F16.self)
        mx = pointwiseMax(mx, x)
        i += 16
    }
    var m = mx.max()
    while i < v { row[i] += bias[i]; m = Swift.max(m, row[i]); i += 1 }
    var acc = F16()
    let mv = F16(repeating: m)
    i = 0
    while i < vec {
        acc += simdExp(r.loadUnaligned(fromByteOffset: i * 4, as: F16.self) - mv)
        i += 16
    }
    var sum = Double(acc.sum())
    while i < v {
        var t = F16(); t[0] = row[i] - m
        sum += Double(simdExp(t)[0]); i += 1
    }
    return (Double(m) - Double(row[target])) + _log(sum)
}
