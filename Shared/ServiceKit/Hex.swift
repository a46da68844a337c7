import Foundation

extension Data {
    /// Lowercase hex, two digits per byte.
    public var hexString: String { map { String(format: "%02x", $0) }.joined() }

    /// Bytes from hex digits; nil for an odd length or a non-hex character.
    public init?(hex: String) {
        guard hex.utf8.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
