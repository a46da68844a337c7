import Foundation
import ServiceKit
import TestSupport
import Testing

@Suite struct IdentityTokenTests {
    let identity = Identity(subject: "user-1", role: .user, email: "a@example.com", scheme: "user", requestID: "req-1")

    @Test func roundTrips() async throws {
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let token = try await tokens.mint(identity, issuer: "gateway")
        #expect(try await tokens.verify(token) == identity)
    }

    @Test func expiresAfterSixtySeconds() async throws {
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let token = try await tokens.mint(identity, issuer: "gateway", now: Date().addingTimeInterval(-120))
        await #expect(throws: APIError.unauthorized("identity_expired", "the identity token has expired")) {
            try await tokens.verify(token)
        }
    }

    @Test func anotherSecretIsRefused() async throws {
        let minted = try await IdentityTokens(secret: String(repeating: "x", count: 40)).mint(identity, issuer: "gateway")
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        await #expect(throws: APIError.self) { try await tokens.verify(minted) }
    }
}
