import Crypto
import Foundation

/// `rr_` + 24 random bytes in base62 (33 characters) + a 6-character base62 checksum of them, so that a mistyped or
/// made-up key is refused without a lookup (devops-api and the gateway both check it). No I/O.
public enum APIKeyFormat {
    public static let prefix = "rr_"
    static let bodyLength = 33
    static let checksumLength = 6
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(from: (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    public static func make(from bytes: [UInt8]) -> String {
        let body = base62(bytes, length: bodyLength)
        return prefix + body + checksum(body)
    }

    /// False for anything that is not a well-formed key with a matching checksum.
    public static func isWellFormed(_ key: String) -> Bool {
        guard key.hasPrefix(prefix), key.utf8.count == prefix.utf8.count + bodyLength + checksumLength,
            key.utf8.allSatisfy({ alphabet.contains($0) || $0 == UInt8(ascii: "_") })
        else { return false }
        let rest = key.dropFirst(prefix.count)
        return checksum(String(rest.prefix(bodyLength))) == String(rest.suffix(checksumLength))
    }

    /// What is stored and looked up: the key's SHA-256, hex.
    public static func hash(_ key: String) -> String {
        Data(SHA256.hash(data: Data(key.utf8))).hexString
    }

    /// Enough of the key to recognise it in a list, never enough to use it.
    public static func displayPrefix(_ key: String) -> String { String(key.prefix(prefix.count + 6)) + "…" }

    static func checksum(_ body: String) -> String {
        base62(Array(SHA256.hash(data: Data(body.utf8)).prefix(4)), length: checksumLength)
    }

    /// Big-endian bytes as a base62 number, left-padded with zeros to `length` digits.
    static func base62(_ bytes: [UInt8], length: Int) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder * 256 + Int(number[index])
                number[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        while digits.count < length { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}
