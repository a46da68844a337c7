import Foundation
import JWTKit

/// RS256 assertions for the providers that authenticate with a JWT signed by a private key we hold: Vonage
/// applications and Google service accounts.
struct ProviderJWT: Sendable {
    let key: Insecure.RSA.PrivateKey

    /// The PEM (PKCS #1 or PKCS #8) of an RSA key of at least 2,048 bits; nil when it is not one.
    init?(pem: String) {
        guard let key = try? Insecure.RSA.PrivateKey(pem: pem) else { return nil }
        self.key = key
    }

    func sign(_ claims: some JWTPayload) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: key, digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }
}

/// Claims a signer only writes: nothing here is ever verified by us.
protocol SignedClaims: JWTPayload {}

extension SignedClaims {
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
