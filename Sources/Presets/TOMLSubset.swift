/// A value of the TOML subset timbred's preset and configuration files use.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])

    /// The value as a number, if it is an integer or a float.
    public var number: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }
}

/// A parse error with its line number.
public struct TOMLError: Error, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parser for the subset of TOML that presets and the configuration file use: comments, `[table]`
/// and `[table.sub]` headers, `key = value` with bare or quoted keys, basic and literal strings,
/// integers, floats, booleans, and (possibly multi-line) arrays of those. Anything else is an error
/// with a line number, never a crash.
///
/// The result maps dotted paths (`"cc.74"`, `"reverb.mix"`) to values.
public enum TOMLSubset {
    public static func parse(_ text: String) throws -> [String: TOMLValue] {
        var result: [String: TOMLValue] = [:]
        var table = ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i < lines.count {
            let lineNo = i + 1
            var line = stripComment(lines[i]).trimmingSpaces()
            i += 1
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw TOMLError(line: lineNo, message: "bad table header \(line)")
                }
                let name = String(line.dropFirst().dropLast()).trimmingSpaces()
                let parts = try name.split(separator: ".", omittingEmptySubsequences: false).map {
                    try key(String($0).trimmingSpaces(), line: lineNo)
                }
                table = parts.joined(separator: ".")
                continue
            }
            guard let eq = findEquals(line) else {
                throw TOMLError(line: lineNo, message: "expected key = value")
            }
            let k = try key(String(line[..<eq]).trimmingSpaces(), line: lineNo)
            var valueText = String(line[line.index(after: eq)...]).trimmingSpaces()
            // multi-line arrays: keep reading until brackets balance
            while bracketDepth(valueText) > 0 {
                guard i < lines.count else { throw TOMLError(line: lineNo, message: "unterminated array") }
                valueText += " " + stripComment(lines[i]).trimmingSpaces()
                i += 1
            }
            line = valueText
            var p = line.startIndex
            let value = try parseValue(line, &p, line: lineNo)
            skipSpaces(line, &p)
            guard p == line.endIndex else {
                throw TOMLError(line: lineNo, message: "unexpected text after value: \(line[p...])")
            }
            let path = table.isEmpty ? k : table + "." + k
            if result[path] != nil { throw TOMLError(line: lineNo, message: "duplicate key \(path)") }
            result[path] = value
        }
        return result
    }

    private static func key(_ s: String, line: Int) throws -> String {
        if s.count >= 2, s.first == "\"", s.last == "\"" { return String(s.dropFirst().dropLast()) }
        guard !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw TOMLError(line: line, message: "bad key '\(s)'")
        }
        return s
    }

    private static func stripComment(_ s: String) -> String {
        var inBasic = false, inLiteral = false, escaped = false
        for idx in s.indices {
            let c = s[idx]
            if inBasic {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inBasic = false }
            } else if inLiteral {
                if c == "'" { inLiteral = false }
            } else if c == "\"" { inBasic = true } else if c == "'" { inLiteral = true } else if c == "#" {
                return String(s[..<idx])
            }
        }
        return s
    }

    private static func findEquals(_ s: String) -> String.Index? {
        var inQuote = false
        for idx in s.indices {
            if s[idx] == "\"" { inQuote.toggle() }
            if s[idx] == "=" && !inQuote { return idx }
        }
        return nil
    }

    private static func bracketDepth(_ s: String) -> Int {
        var depth = 0, inBasic = false, inLiteral = false
        for c in s {
            if inBasic { if c == "\"" { inBasic = false }; continue }
            if inLiteral { if c == "'" { inLiteral = false }; continue }
            switch c {
            case "\"": inBasic = true
            case "'": inLiteral = true
            case "[": depth += 1
            case "]": depth -= 1
            default: break
            }
        }
        return depth
    }

    private static func skipSpaces(_ s: String, _ p: inout String.Index) {
        while p < s.endIndex, s[p] == " " || s[p] == "\t" { p = s.index(after: p) }
    }

    private static func parseValue(_ s: String, _ p: inout String.Index, line: Int, depth: Int = 0) throws -> TOMLValue {
        skipSpaces(s, &p)
        guard p < s.endIndex else { throw TOMLError(line: line, message: "missing value") }
        guard depth < 16 else { throw TOMLError(line: line, message: "arrays nested too deep") }
        let c = s[p]
        if c == "\"" || c == "'" {
            return .string(try parseString(s, &p, line: line))
        }
        if c == "[" {
            p = s.index(after: p)
            var items: [TOMLValue] = []
            while true {
                skipSpaces(s, &p)
                guard p < s.endIndex else { throw TOMLError(line: line, message: "unterminated array") }
                if s[p] == "]" { p = s.index(after: p); return .array(items) }
                items.append(try parseValue(s, &p, line: line, depth: depth + 1))
                skipSpaces(s, &p)
                guard p < s.endIndex else { throw TOMLError(line: line, message: "unterminated array") }
                if s[p] == "," { p = s.index(after: p) } else if s[p] != "]" {
                    throw TOMLError(line: line, message: "expected , or ] in array")
                }
            }
        }
        var end = p
        while end < s.endIndex, !",] \t".contains(s[end]) { end = s.index(after: end) }
        let token = String(s[p..<end])
        p = end
        if token == "true" { return .bool(true) }
        if token == "false" { return .bool(false) }
        let clean = token.replacingUnderscores()
        if let i = Int(clean) { return .integer(i) }
        if clean == "inf" || clean == "+inf" || clean == "-inf" || clean == "nan" {
            throw TOMLError(line: line, message: "non-finite number \(token)")
        }
        if let d = Double(clean), d.isFinite { return .float(d) }
        throw TOMLError(line: line, message: "bad value '\(token)'")
    }

    private static func parseString(_ s: String, _ p: inout String.Index, line: Int) throws -> String {
        let quote = s[p]
        p = s.index(after: p)
        var out = ""
        while p < s.endIndex {
            let c = s[p]
            p = s.index(after: p)
            if c == quote { return out }
            if c == "\\" && quote == "\"" {
                guard p < s.endIndex else { break }
                let e = s[p]
                p = s.index(after: p)
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\": out.append("\\")
                case "\"": out.append("\"")
                default: throw TOMLError(line: line, message: "unsupported escape \\\(e)")
                }
            } else {
                out.append(c)
            }
        }
        throw TOMLError(line: line, message: "unterminated string")
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }

    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
