import Foundation

/// Human-readable numbers for progress lines and reports.
public enum Format {
    public static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return "\(t / 3600)h\(String(format: "%02d", (t % 3600) / 60))m" }
        if t >= 60 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
        return "\(t)s"
    }

    static func sci(_ v: Double) -> String { String(format: "%.2e", v) }

    /// ppl, clamped so an early huge loss prints as a number, not "inf".
    public static func ppl(_ loss: Double) -> Double { exp(min(loss, 700)) }

    /// A flat JSON object from ordered key/value pairs (numbers, strings, bools).
    public static func json(_ pairs: [(String, Any)]) -> String {
        "{" + pairs.map { k, v in
            let val: String
            switch v {
            case let d as Double: val = d.isFinite ? "\(d)" : "null"
            case let f as Float: val = f.isFinite ? "\(f)" : "null"
            case let i as Int: val = "\(i)"
            case let u as UInt64: val = "\(u)"
            case let b as Bool: val = b ? "true" : "false"
            case let s as String: val = JSONValue.quote(s)
            default: val = JSONValue.quote("\(v)")
            }
            return "\(JSONValue.quote(k)):\(val)"
        }.joined(separator: ",") + "}"
    }
}
