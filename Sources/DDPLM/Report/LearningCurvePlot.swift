import Foundation

/// `ddplm plot`: an SVG of one or more runs' perplexity, against tokens seen (left) and training time
/// (right), on a log-scale axis. Training curves are thin, validation thick with dots; a triangle marks
/// each validation after which the learning rate was halved. Self-contained SVG 1.1 (no scripts, no
/// external fonts), so browsers, rsvg-convert and GitHub all draw it.
public enum LearningCurvePlot {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public static func svg(_ runs: [RunCurves], title: String? = nil) -> String {
        let panelW = 430.0, panelH = 300.0, left = 70.0, top = 48.0, gap = 90.0, bottom = 60.0
        let legendH = Double(runs.count) * 18 + 14
        let width = left + 2 * panelW + gap + 30, height = top + panelH + bottom + legendH
        let all = runs.flatMap { $0.train + $0.valid }
        let lo = all.map(\.ppl).min() ?? 1, hi = all.map(\.ppl).max() ?? 10
        let yTicks = logTicks(lo, hi)
        let (y0, y1) = (log10(min(lo, yTicks.first ?? lo)), log10(max(hi, yTicks.last ?? hi)))
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="15">\(escape(title ?? "Perplexity (log scale): training thin, validation thick; ▼ learning rate halved there"))</text>

        """
        for (panel, key) in [(0, \RunCurves.Point.tokens), (1, \RunCurves.Point.seconds)] {
            let px = left + Double(panel) * (panelW + gap)
            let xMax = max(all.map { $0[keyPath: key] }.max() ?? 1, 1e-9)
            let xTicks = linearTicks(xMax)
            let xTop = max(xMax, xTicks.last ?? xMax)
            func X(_ v: Double) -> Double { px + v / xTop * panelW }
            func Y(_ p: Double) -> Double { top + panelH - (log10(p) - y0) / max(y1 - y0, 1e-9) * panelH }
            out += "<rect x=\"\(f(px))\" y=\"\(f(top))\" width=\"\(f(panelW))\" height=\"\(f(panelH))\" fill=\"none\" stroke=\"#444\"/>\n"
            for t in yTicks {
                out += "<line x1=\"\(f(px))\" x2=\"\(f(px + panelW))\" y1=\"\(f(Y(t)))\" y2=\"\(f(Y(t)))\" stroke=\"#e4e4e4\"/>"
                out += "<text x=\"\(f(px - 6))\" y=\"\(f(Y(t) + 4))\" text-anchor=\"end\">\(number(t))</text>\n"
            }
            for t in xTicks {
                out += "<line x1=\"\(f(X(t)))\" x2=\"\(f(X(t)))\" y1=\"\(f(top))\" y2=\"\(f(top + panelH))\" stroke=\"#e4e4e4\"/>"
                out += "<text x=\"\(f(X(t)))\" y=\"\(f(top + panelH + 16))\" text-anchor=\"middle\">\(panel == 0 ? number(t) : duration(t))</text>\n"
            }
            let xLabel = panel == 0 ? "tokens seen" : "training time"
            out += "<text x=\"\(f(px + panelW / 2))\" y=\"\(f(top + panelH + 38))\" text-anchor=\"middle\">\(xLabel)</text>\n"
            out += "<text transform=\"translate(\(f(px - 52)) \(f(top + panelH / 2))) rotate(-90)\" text-anchor=\"middle\">perplexity</text>\n"
            for (i, r) in runs.enumerated() {
                let color = palette[i % palette.count]
                func path(_ pts: [RunCurves.Point]) -> String {
                    pts.map { "\(f(X($0[keyPath: key]))),\(f(Y($0.ppl)))" }.joined(separator: " ")
                }
                if r.train.count > 1 {
                    out += "<polyline points=\"\(path(r.train))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1\" stroke-opacity=\"0.55\"/>\n"
                }
                if r.valid.count > 1 {
                    out += "<polyline points=\"\(path(r.valid))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.5\"/>\n"
                }
                for p in r.valid {
                    out += "<circle cx=\"\(f(X(p[keyPath: key])))\" cy=\"\(f(Y(p.ppl)))\" r=\"3\" fill=\"\(color)\"/>"
                }
                for p in r.lrCuts {
                    let x = X(p[keyPath: key]), y = Y(p.ppl) - 9
                    out += "<path d=\"M\(f(x - 5)),\(f(y - 8)) L\(f(x + 5)),\(f(y - 8)) L\(f(x)),\(f(y)) Z\" fill=\"\(color)\" stroke=\"black\" stroke-width=\"0.6\"/>"
                }
                out += "\n"
            }
        }
        // legend
        var ly = top + panelH + bottom + 6
        for (i, r) in runs.enumerated() {
            let color = palette[i % palette.count]
            let best = r.valid.map(\.ppl).min().map { ", best valid ppl \(number($0))" } ?? ""
            out += "<line x1=\"\(f(left))\" x2=\"\(f(left + 26))\" y1=\"\(f(ly))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2.5\"/>"
            out += "<text x=\"\(f(left + 34))\" y=\"\(f(ly + 4))\">\(escape(r.name))\(r.detail.isEmpty ? "" : " (\(escape(r.detail)))")\(best)</text>\n"
            ly += 18
        }
        return out + "</svg>\n"
    }

    /// 1, 2, 5 × 10^k ticks covering [lo, hi] (fewer when the range is wide).
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let a = floor(log10(max(lo, 1e-9))), b = ceil(log10(max(hi, lo * 1.0001)))
        let steps: [Double] = b - a > 3 ? [1] : [1, 2, 5]
        var t: [Double] = []
        var e = a
        while e <= b {
            for m in steps {
                let v = m * pow(10, e)
                if v >= lo / 1.3 && v <= hi * 1.3 { t.append(v) }
            }
            e += 1
        }
        if t.count < 2 { t = [lo, hi] }
        return t
    }

    /// About five round ticks from 0 to at least `maxValue`.
    static func linearTicks(_ maxValue: Double) -> [Double] {
        let raw = maxValue / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        return stride(from: 0.0, through: maxValue + step * 0.999, by: step).map { $0 }
    }

    static func number(_ v: Double) -> String {
        if v >= 1e6 { return trim(v / 1e6) + "M" }
        if v >= 1e4 { return trim(v / 1e3) + "k" }
        return trim(v)
    }

    static func duration(_ s: Double) -> String {
        if s >= 3600 { return trim(s / 3600) + "h" }
        if s >= 60 { return trim(s / 60) + "m" }
        return trim(s) + "s"
    }

    static func trim(_ v: Double) -> String {
        String(format: v < 10 && v != v.rounded() ? "%.1f" : "%.0f", v)
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
