import Crypto
import Foundation
import NIOCore
import ServiceKit
import Synchronization

/// devops-api's introspection answer for one key and scope.
public struct KeyVerification: Codable, Sendable, Equatable {
    public var valid: Bool
    /// Why an invalid key is refused: `unknown`, `bad_checksum`, `expired`, `revoked` or `missing_scope`.
    public var reason: String?
    public var keyId: String?
    public var owner: String?
    public var permissions: [String]?

    public init(valid: Bool, reason: String? = nil, keyId: String? = nil, owner: String? = nil, permissions: [String]? = nil) {
        self.valid = valid
        self.reason = reason
        self.keyId = keyId
        self.owner = owner
        self.permissions = permissions
    }
}

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
    private let cache = Mutex<[String: CachedAnswer]>([:])

    init(client: InternalClient, devopsURL: String, timeout: Duration, cacheTTL: Duration) {
        self.client = client
        self.verifyURL = devopsURL + "/internal/keys/verify"
        self.timeout = timeout
        self.cacheTTL = cacheTTL
    }

    func verify(key: String, scope: String, requestID: String) async throws -> KeyVerification {
        // The raw key never becomes a dictionary key that could end up in a heap dump next to its owner.
        let cacheKey = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined() + " " + scope
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
        cache.withLock { entries in
            if entries.count > 50_000 { entries = entries.filter { $0.value.expires > now } }
            entries[cacheKey] = CachedAnswer(answer: answer, expires: now + cacheTTL)
        }
        return answer
    }
}
