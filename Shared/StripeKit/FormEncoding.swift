import Foundation

/// A value in a Stripe request body. Stripe takes `application/x-www-form-urlencoded` with nesting written into
/// the keys: `metadata[user_id]=u1`, `line_items[0][price]=price_1`.
public indirect enum FormValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    case string(String)
    case list([FormValue])
    case map([(String, FormValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .string(String(value)) }
    public init(booleanLiteral value: Bool) { self = .string(value ? "true" : "false") }
    public init(arrayLiteral elements: FormValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, FormValue)...) { self = .map(elements) }

    /// String metadata, in a stable (sorted) order.
    public static func metadata(_ values: [String: String]) -> FormValue {
        .map(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    public static func == (lhs: FormValue, rhs: FormValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a == b
        case (.list(let a), .list(let b)): a == b
        case (.map(let a), .map(let b)): a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: false
        }
    }
}

/// The parameters of one request, in the order given.
public typealias FormParameters = [(String, FormValue)]

public enum FormEncoding {
    /// `a=1&metadata[k]=v&items[0][price]=p`, percent-encoded (brackets too) as a URL query or a form body.
    public static func encode(_ parameters: FormParameters) -> String {
        var pairs: [(String, String)] = []
        func flatten(_ key: String, _ value: FormValue) {
            switch value {
            case .string(let string): pairs.append((key, string))
            case .list(let items): for (index, item) in items.enumerated() { flatten("\(key)[\(index)]", item) }
            case .map(let entries): for (name, item) in entries { flatten("\(key)[\(name)]", item) }
            }
        }
        for (key, value) in parameters { flatten(key, value) }
        return pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// Decodes a form body into flat `(key, value)` pairs, keys still bracketed.
    public static func decode(_ body: String) -> [(String, String)] {
        body.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = unescape(String(parts[0])), !key.isEmpty else { return nil }
            return (key, parts.count > 1 ? unescape(String(parts[1])) ?? "" : "")
        }
    }

    // Only the unreserved set goes unescaped. A raw bracket is not valid in a URL, and URL parsers that meet one
    // escape the whole query again, `%2A` becoming `%252A`; Stripe reads `%5B`/`%5D` as brackets.
    private static let allowed: Set<UInt8> = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func escape(_ string: String) -> String {
        var result = ""
        for byte in string.utf8 {
            if allowed.contains(byte) {
                result.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    static func unescape(_ string: String) -> String? {
        string.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
