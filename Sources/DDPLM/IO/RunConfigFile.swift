import Foundation

/// What every kind of run's `config.json` shares (`RunConfig` for a language model, `ClassifierRunConfig`
/// for a classifier): its bytes (pretty-printed, sorted keys: the same config always gives the same
/// bytes), the fingerprints of the whole and of the parts fixed for the run's life, and loading with one
/// clear line for a missing file, another kind of run, an old format or bad JSON.
protocol RunConfigFile: Codable {
    associatedtype Fixed: Encodable
    static var currentFormat: String { get }
    /// What a run of this kind is called in errors ("a language-model run").
    static var kind: String { get }
    /// The commands that read this kind of run, for the error a run of the other kind gets.
    static var command: String { get }
    var fixedParts: Fixed { get }
    /// The option that sets each fixed field ("training.lr": "--lr"), for the resume refusal.
    static var flagNames: [String: String] { get }
}

private struct FormatHeader: Decodable { var format: String? }

/// The `format` a config.json names, if it is readable JSON that names one.
func runConfigFormat(atPath path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return (try? JSONDecoder().decode(FormatHeader.self, from: data))?.format
}

/// Every kind of run this ddplm reads.
private let runConfigKinds: [any RunConfigFile.Type] = [RunConfig.self, ClassifierRunConfig.self]

extension RunConfigFile {
    func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self) + "\n"
    }

    /// Fingerprint of the settings every rank must share.
    var hash: UInt64 {
        var h = FNV1a64()
        h.add((try? encoded()) ?? "")
        return h.value
    }

    /// The one rule of resuming: the fixed parts (model, data, training and what the corpus decided)
    /// cannot change. Throws naming the first field that differs from `recorded`, by its option.
    func refuseFixedChangesOf(_ recorded: Self, run: String) throws {
        let was = Self.leaves(recorded.fixedParts), now = Self.leaves(fixedParts)
        for key in Set(was.keys).union(now.keys).sorted() where was[key] != now[key] {
            let name = Self.flagNames[key] ?? key
            throw DDPLMError("\(name) cannot change when resuming: the run has \(name) \(was[key] ?? "none"), this command gives \(now[key] ?? "none") (fixed in \(run)/config.json; only the stop and logging options and the runtime ones (--threads, --matmul-precision, --hang-timeout, --no-blas-autoselect) may change)")
        }
    }

    /// The fixed parts as "section.field": value text, from their JSON.
    static func leaves(_ fixed: Fixed) -> [String: String] {
        guard let data = try? JSONEncoder().encode(fixed),
              let root = try? data.withUnsafeBytes({ try JSONValue.parse($0) }) else { return [:] }
        var out: [String: String] = [:]
        func text(_ v: JSONValue) -> String {
            switch v {
            case .string(let s), .number(let s): return s
            case .bool(let b): return b ? "true" : "false"
            case .array(let a): return a.map(text).joined(separator: ",")
            case .object, .null: return ""
            }
        }
        func walk(_ v: JSONValue, _ path: String) {
            if case .object(let members) = v {
                for (k, x) in members { walk(x, path.isEmpty ? k : path + "." + k) }
            } else {
                out[path] = text(v)
            }
        }
        walk(root, "")
        return out
    }

    /// Fingerprint of the fixed parts (what ties a checkpoint to its run), after `salt`.
    func fixedFingerprint(salt: String = "") -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var h = FNV1a64()
        if !salt.isEmpty { h.add(salt) }
        h.add(Array((try? enc.encode(fixedParts)) ?? Data()))
        return h.hex
    }

    static func loadFile(_ path: String) throws -> Self {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("'\(path)' is missing or unreadable")
        }
        if let h = try? JSONDecoder().decode(FormatHeader.self, from: data), let f = h.format, f != currentFormat {
            if let other = runConfigKinds.first(where: { $0.currentFormat == f }) {
                throw DDPLMError("'\(path)' is a \(f) config, not \(kind) (\(other.kind): use '\(other.command)')")
            }
            throw DDPLMError("'\(path)' is a \(f) config; this ddplm reads \(currentFormat) (retrain, or use the ddplm that wrote it)")
        }
        do { return try JSONDecoder().decode(Self.self, from: data) } catch {
            throw DDPLMError("'\(path)' is not a valid ddplm config.json (\(describe(error)))")
        }
    }

    static func describe(_ error: Error) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch error {
        case DecodingError.keyNotFound(let k, let c): return "missing key '\((c.codingPath + [k]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): return "bad value at '\(path(c))'"
        case DecodingError.dataCorrupted(let c): return c.codingPath.isEmpty ? "not JSON" : "bad value at '\(path(c))'"
        default: return "\(error)"
        }
    }
}
