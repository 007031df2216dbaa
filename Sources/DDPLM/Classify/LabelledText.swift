import Foundation

/// Labelled documents as read from disk, before tokenisation. Two layouts:
///  - a file of lines `label<TAB>text` (UTF-8, one document per line, empty lines skipped);
///  - a directory with one subdirectory per label holding `*.txt` documents, like aclImdb's `train/` and
///    `test/` (`pos/`, `neg/`; a subdirectory named `unsup`, aclImdb's unlabelled reviews, is skipped).
/// Documents come in a fixed order: file order, or label then file name.
public struct LabelledText {
    public var labels: [String] = []
    public var texts: [String] = []
    public var count: Int { texts.count }

    /// `role` ("training", "test", …) names the corpus in errors.
    public static func read(_ path: String, role: String) throws -> LabelledText {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DDPLMError("\(role) data '\(path)' does not exist")
        }
        let out = isDir.boolValue ? try readDirectory(path, role: role) : try readFile(path, role: role)
        guard out.count > 0 else { throw DDPLMError("\(role) data '\(path)' holds no documents") }
        return out
    }

    static func utf8(_ data: Data, _ what: String) throws -> String {
        guard let s = String(data: data, encoding: .utf8) else { throw DDPLMError("\(what) is not valid UTF-8 text") }
        if s.utf8.contains(0) { throw DDPLMError("\(what) looks binary (it contains a NUL byte); expected text") }
        return s
    }

    static func readFile(_ path: String, role: String) throws -> LabelledText {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DDPLMError("\(role) data '\(path)' cannot be read (permissions?)")
        }
        let text = try utf8(data, "\(role) data '\(path)'")
        var out = LabelledText()
        var lineNumber = 0
        // lines end in \n or \r\n ("\r\n" is one Character in Swift)
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            guard let tab = line.firstIndex(of: "\t") else {
                throw DDPLMError("\(role) data '\(path)' line \(lineNumber): expected 'label<TAB>text' (no tab)")
            }
            let label = line[..<tab].trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else { throw DDPLMError("\(role) data '\(path)' line \(lineNumber): empty label") }
            out.labels.append(label)
            out.texts.append(String(line[line.index(after: tab)...]))
        }
        return out
    }

    static func readDirectory(_ path: String, role: String) throws -> LabelledText {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        let classes = entries.filter { name in
            var d: ObjCBool = false
            return name != "unsup" && !name.hasPrefix(".") && fm.fileExists(atPath: path + "/" + name, isDirectory: &d) && d.boolValue
        }.sorted()
        guard !classes.isEmpty else {
            throw DDPLMError("\(role) data '\(path)' has no label subdirectories (expected e.g. pos/ and neg/ holding .txt files)")
        }
        var out = LabelledText()
        for label in classes {
            let dir = path + "/" + label
            let files = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
            guard !files.isEmpty else {
                var sub: ObjCBool = false
                let nested = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).contains { fm.fileExists(atPath: dir + "/" + $0, isDirectory: &sub) && sub.boolValue }
                if nested { throw DDPLMError("\(role) data '\(path)' holds directories of directories, like the aclImdb root: give e.g. '\(path)/train' and '\(path)/test'") }
                throw DDPLMError("\(role) data '\(path)': class '\(label)' is empty (no .txt files in '\(dir)')")
            }
            for f in files {
                let file = dir + "/" + f
                guard let data = fm.contents(atPath: file) else { throw DDPLMError("\(role) document '\(file)' cannot be read") }
                out.labels.append(label)
                out.texts.append(try utf8(data, "\(role) document '\(file)'"))
            }
        }
        return out
    }
}
