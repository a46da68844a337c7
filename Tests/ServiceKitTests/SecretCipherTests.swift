import Crypto
import Foundation
import ServiceKit
import Testing

@Suite struct SecretCipherTests {
    let old = SymmetricKey(data: Data(repeating: 3, count: 32))
    let new = SymmetricKey(data: Data(repeating: 4, count: 32))

    @Test func secretsOpenWithTheKeyTheyNameAfterRotation() throws {
        let before = SecretCipher(currentKeyID: "k1", keys: ["k1": old])
        let sealed = try before.seal("sk_test_connected_secret")
        #expect(sealed.keyID == "k1")
        #expect(!sealed.ciphertext.contains("secret"))
        let after = SecretCipher(currentKeyID: "k2", keys: ["k1": old, "k2": new])
        #expect(try after.open(sealed.ciphertext, keyID: "k1") == "sk_test_connected_secret")
        #expect(try after.seal("x").keyID == "k2")
        #expect(throws: SecretCipher.UnknownKey.self) { try SecretCipher(currentKeyID: "k2", keys: ["k2": new]).open(sealed.ciphertext, keyID: "k1") }
    }

    @Test func keysAreReadUnderTheServicesPrefixAndMustBe32Bytes() throws {
        let current = Data(repeating: 5, count: 32).base64EncodedString()
        let earlier = Data(repeating: 6, count: 32).base64EncodedString()
        let cipher = try SecretCipher.load(
            from: EnvironmentReader(["OPS_ENCRYPTION_KEY": current, "OPS_ENCRYPTION_KEY_ID": "k2", "OPS_ENCRYPTION_OLD_KEYS": "k1:\(earlier)"]),
            prefix: "OPS_ENCRYPTION"
        )
        #expect(cipher.currentKeyID == "k2")
        let sealedEarlier = try SecretCipher(currentKeyID: "k1", keys: ["k1": SymmetricKey(data: Data(repeating: 6, count: 32))]).seal("n8n_api_key")
        #expect(try cipher.open(sealedEarlier.ciphertext, keyID: "k1") == "n8n_api_key")
        #expect(throws: ConfigurationError.self) {
            try SecretCipher.load(from: EnvironmentReader(["OPS_ENCRYPTION_KEY": "c2hvcnQ="]), prefix: "OPS_ENCRYPTION")
        }
    }
}
