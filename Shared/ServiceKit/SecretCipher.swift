import Crypto
import Foundation

/// Encrypts secrets at rest (Connect tokens, monitored systems' credentials) with AES-GCM. Each ciphertext is stored
/// with the id of its key, so the key can rotate: new secrets use the current key, old ones still open with the key
/// they name. No I/O.
public struct SecretCipher: Sendable {
    public let currentKeyID: String
    let keys: [String: SymmetricKey]

    public struct UnknownKey: Error { public let keyID: String }

    public init(currentKeyID: String, keys: [String: SymmetricKey]) {
        precondition(keys[currentKeyID] != nil, "the current key must be among the keys")
        self.currentKeyID = currentKeyID
        self.keys = keys
    }

    /// `(key id, base64 of nonce ‖ ciphertext ‖ tag)`.
    public func seal(_ plaintext: String) throws -> (keyID: String, ciphertext: String) {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: keys[currentKeyID]!)
        return (currentKeyID, box.combined!.base64EncodedString())
    }

    public func open(_ ciphertext: String, keyID: String) throws -> String {
        guard let key = keys[keyID] else { throw UnknownKey(keyID: keyID) }
        guard let combined = Data(base64Encoded: ciphertext) else { throw CryptoKitError.incorrectParameterSize }
        return String(decoding: try AES.GCM.open(try AES.GCM.SealedBox(combined: combined), using: key), as: UTF8.self)
    }

    /// `<prefix>_KEY` (base64 of 32 bytes) as key `<prefix>_KEY_ID`, plus earlier keys in `<prefix>_OLD_KEYS`
    /// (`id:base64,id:base64`).
    public static func load(from environment: EnvironmentReader, prefix: String) throws -> SecretCipher {
        func key(_ base64: String, variable: String) throws -> SymmetricKey {
            guard let data = Data(base64Encoded: base64), data.count == 32 else {
                throw ConfigurationError(variable: variable, expected: "must be 32 random bytes in base64 (openssl rand -base64 32)")
            }
            return SymmetricKey(data: data)
        }
        let currentID = environment.optional(prefix + "_KEY_ID") ?? "k1"
        var keys = [
            currentID: try key(try environment.required(prefix + "_KEY", expecting: "32 random bytes in base64"), variable: prefix + "_KEY")
        ]
        for entry in (environment.optional(prefix + "_OLD_KEYS") ?? "").split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw ConfigurationError(variable: prefix + "_OLD_KEYS", expected: "must be id:base64 pairs separated by commas")
            }
            keys[String(parts[0])] = try key(String(parts[1]), variable: prefix + "_OLD_KEYS")
        }
        return SecretCipher(currentKeyID: currentID, keys: keys)
    }
}
