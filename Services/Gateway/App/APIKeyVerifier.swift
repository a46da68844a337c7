import Contracts
import Crypto
import Foundation
import NIOCore
import ServiceKit
import Synchronization

/// Asks devops-api whether an API key may use a scope, with a short timeout and a cache of at most ten seconds,
/// so that a revoked key stops working within that time. When devops-api cannot be asked, the answer is 503:
/// the gateway never lets a key through that it could not check.
final class APIKeyVerifier: Sendable {
    struct CachedAnswer {
        let answer: KeyVerification
        let expires: ContinuousClock.Instant
    }

    let client: InternalClient
    let verifyURL: String
    let timeout: Duration
    let cacheTTL: Duration
    /// Refusals are cached like approvals, so repeating a revoked or unknown key costs one lookup per TTL.
    private let cache = Mutex(BoundedDictionary<String, CachedAnswer>(capacity: 50_000))

    init(client: InternalClient, devopsURL: String, timeout: Duration, cacheTTL: Duration) {
        self.client = client
        self.verifyURL = devopsURL + "/internal/keys/verify"
        self.timeout = timeout
        self.cacheTTL = cacheTTL
    }

    func verify(key: String, scope: String, requestID: String) async throws -> KeyVerification {
        // The raw key never becomes a dictionary key that could end up in a heap dump next to its owner.
        let cacheKey = Data(SHA256.hash(data: Data(key.utf8))).hexString + " " + scope
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[cacheKey] }), cached.expires > now {
            return cached.answer
        }
        let answer: KeyVerification
        do {
            let body = try JSONEncoder().encode(["key": key, "scope": scope])
            let reply = try await client.send(
                .init(.POST, verifyURL, body: ByteBuffer(bytes: body), timeout: timeout, idempotent: false),
                requestID: requestID
            )
            guard reply.status == .ok else { throw APIError(.serviceUnavailable, "key_service_unavailable", "") }
            answer = try reply.decode(KeyVerification.self)
        } catch {
            throw APIError(.serviceUnavailable, "key_service_unavailable", "API keys cannot be checked right now; try again shortly")
        }
        cache.withLock { $0[cacheKey] = CachedAnswer(answer: answer, expires: now + cacheTTL) }
        return answer
    }
}
