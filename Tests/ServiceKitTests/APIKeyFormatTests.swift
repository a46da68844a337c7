import Testing

@testable import ServiceKit

@Suite struct APIKeyFormatTests {
    @Test func generatedKeysAreWellFormedAndDistinct() {
        let keys = (0..<50).map { _ in APIKeyFormat.generate() }
        #expect(keys.allSatisfy(APIKeyFormat.isWellFormed))
        #expect(Set(keys).count == 50)
        #expect(keys.allSatisfy { $0.hasPrefix("rr_") && $0.count == 3 + 33 + 6 })
    }

    @Test func aMistypedKeyFailsItsChecksum() throws {
        let key = APIKeyFormat.make(from: Array(repeating: 7, count: 24))
        #expect(APIKeyFormat.isWellFormed(key))
        var characters = Array(key)
        characters[10] = characters[10] == "a" ? "b" : "a"
        #expect(!APIKeyFormat.isWellFormed(String(characters)))
        #expect(!APIKeyFormat.isWellFormed(String(key.dropLast())))
        #expect(!APIKeyFormat.isWellFormed("sk_" + key.dropFirst(3)))
        #expect(!APIKeyFormat.isWellFormed(key.replacingOccurrences(of: "rr_", with: "rr-")))
    }

    @Test func base62IsABigEndianNumber() {
        #expect(APIKeyFormat.base62([0, 61], length: 3) == "00z")
        #expect(APIKeyFormat.base62([0, 62], length: 2) == "10")
        #expect(APIKeyFormat.base62([1, 0], length: 1) == "48")
    }

    @Test func onlyTheHashAndAPrefixAreKept() {
        let key = APIKeyFormat.generate()
        #expect(APIKeyFormat.hash(key).count == 64)
        #expect(!APIKeyFormat.hash(key).contains(key.dropFirst(3).prefix(8)))
        #expect(APIKeyFormat.displayPrefix(key) == String(key.prefix(9)) + "…")
    }
}
