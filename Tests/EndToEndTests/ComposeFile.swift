import Foundation

/// The part of YAML that `compose/docker-compose.yml` uses: block mappings and sequences, flow sequences of
/// scalars, quoted scalars, anchors, aliases and `<<` merge keys. Enough to check the file, not a YAML library.
indirect enum YAMLNode: Equatable {
    case scalar(String)
    case sequence([YAMLNode])
    case mapping([String: YAMLNode])

    subscript(key: String) -> YAMLNode? {
        guard case .mapping(let map) = self else { return nil }
        return map[key]
    }

    var mapping: [String: YAMLNode] {
        if case .mapping(let map) = self { return map }
        return [:]
    }

    var scalars: [String] {
        switch self {
        case .scalar(let value): [value]
        case .sequence(let items): items.flatMap(\.scalars)
        case .mapping: []
        }
    }

    /// A compose `environment:` block as a dictionary.
    var stringMapping: [String: String] { mapping.compactMapValues(\.scalars.first) }
}

struct YAMLError: Error, CustomStringConvertible {
    let line: Int
    let message: String
    var description: String { "line \(line): \(message)" }
}

struct MiniYAMLParser {
    private var lines: [(number: Int, indent: Int, text: String)] = []
    private var index = 0
    private var anchors: [String: YAMLNode] = [:]

    static func parse(_ text: String) throws -> YAMLNode {
        var parser = MiniYAMLParser()
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            parser.lines.append((offset + 1, raw.prefix { $0 == " " }.count, trimmed))
        }
        guard !parser.lines.isEmpty else { return .mapping([:]) }
        return try parser.block(indent: 0)
    }

    private mutating func block(indent: Int) throws -> YAMLNode {
        lines[index].text.hasPrefix("- ") ? try sequence(indent: indent) : try mapping(indent: indent)
    }

    private mutating func sequence(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        while index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("- ") {
            items.append(try scalar(String(lines[index].text.dropFirst(2)), line: lines[index].number))
            index += 1
        }
        return .sequence(items)
    }

    private mutating func mapping(indent: Int) throws -> YAMLNode {
        var map: [String: YAMLNode] = [:]
        while index < lines.count, lines[index].indent == indent {
            let (number, _, text) = lines[index]
            guard let colon = text.firstIndex(of: ":").flatMap({ text[$0...].hasPrefix(": ") || text[$0...] == ":" ? $0 : nil }) else {
                throw YAMLError(line: number, message: "expected `key: value`")
            }
            let key = unquote(String(text[..<colon]))
            var rest = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            var anchor: String?
            if rest.hasPrefix("&") {
                let name = rest.dropFirst().prefix { $0 != " " }
                anchor = String(name)
                rest = rest.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
            }
            index += 1
            let value: YAMLNode
            if !rest.isEmpty {
                value = try scalar(rest, line: number)
            } else if index < lines.count, lines[index].indent > indent {
                value = try block(indent: lines[index].indent)
            } else {
                value = .scalar("")
            }
            if let anchor { anchors[anchor] = value }
            if key == "<<" {
                map.merge(value.mapping) { explicit, _ in explicit }
            } else {
                map[key] = value
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return .mapping(map)
    }

    private func scalar(_ text: String, line: Int) throws -> YAMLNode {
        if text.hasPrefix("*") {
            guard let node = anchors[String(text.dropFirst())] else { throw YAMLError(line: line, message: "unknown alias \(text)") }
            return node
        }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw YAMLError(line: line, message: "unterminated flow sequence") }
            let inner = text.dropFirst().dropLast()
            return .sequence(inner.split(separator: ",").map { .scalar(unquote($0.trimmingCharacters(in: .whitespaces))) })
        }
        return .scalar(unquote(text))
    }

    private func unquote(_ text: String) -> String {
        for quote in ["\"", "'"] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
            return String(text.dropFirst().dropLast())
        }
        return text
    }
}

/// Compose's own variable syntax: `${NAME:?message}` is required, `${NAME:-default}` has a default.
/// Required variables take the operator's value, else a stand-in long enough for any secret check.
func substituteComposeVariables(_ text: String, operatorValues: [String: String]) -> String {
    let pattern = try! NSRegularExpression(pattern: #"\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}"#)
    var result = ""
    var last = text.startIndex
    for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
        let range = Range(match.range, in: text)!
        result += text[last..<range.lowerBound]
        let name = String(text[Range(match.range(at: 1), in: text)!])
        let kind = Range(match.range(at: 2), in: text).map { String(text[$0]) }
        let argument = Range(match.range(at: 3), in: text).map { String(text[$0]) } ?? ""
        switch kind {
        case "?": result += operatorValues[name] ?? "set-by-operator-\(name.lowercased())-0123456789abcdef"
        case "-": result += operatorValues[name] ?? argument
        default: result += operatorValues[name] ?? ""
        }
        last = range.upperBound
    }
    return result + text[last...]
}
