import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import ServiceKit

/// The claims of a Supabase-style user token.
public struct UserClaims: JWTPayload, Equatable {
    public struct AppMetadata: Codable, Sendable, Equatable {
        public var role: String?
    }

    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?
    public var nbf: NotBeforeClaim?
    public var aud: AudienceClaim?
    public var email: String?
    public var role: String?
    public var appMetadata: AppMetadata?

    enum CodingKeys: String, CodingKey {
        case sub, exp, iat, nbf, aud, email, role
        case appMetadata = "app_metadata"
    }

    public init(subject: String, email: String?, admin: Bool, issuedAt: Date, lifetime: TimeInterval) {
        sub = .init(value: subject)
        iat = .init(value: issuedAt)
        exp = .init(value: issuedAt.addingTimeInterval(lifetime))
        aud = .init(value: UserTokenVerifier.audience)
        self.email = email
        role = "authenticated"
        appMetadata = admin ? AppMetadata(role: "admin") : nil
    }

    public var isAdmin: Bool { appMetadata?.role == "admin" }

    /// Times and audience are checked by `UserTokenVerifier`, which allows the clock skew jwt-kit does not.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies user tokens: HS256 under the Supabase secret, RS256/ES256 from a JWKS. The header's algorithm
/// picks the key set, so an HS256 token can never be checked against a public key or the reverse.
public final class UserTokenVerifier: Sendable {
    public static let audience = "authenticated"
    static let leeway: TimeInterval = 60

    let hmacKeys: JWTKeyCollection?
    let jwks: JWKSCache?

    public init(hmacSecret: String?, jwks: JWKSCache?) async {
        if let hmacSecret {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: hmacSecret), digestAlgorithm: .sha256)
            hmacKeys = keys
        } else {
            hmacKeys = nil
        }
        self.jwks = jwks
    }

    /// Signs a user token, for `gateway token` and for tests.
    public static func mint(_ claims: UserClaims, hmacSecret: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: hmacSecret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    public func verify(_ token: String, now: Date = Date()) async throws -> UserClaims {
        let header = try Self.header(of: token)
        let claims: UserClaims
        switch header.alg {
        case "HS256":
            guard let hmacKeys else { throw APIError.unauthorized("unsupported_algorithm", "HS256 tokens are not accepted here") }
            claims = try await Self.checkSignature { try await hmacKeys.verify(token, as: UserClaims.self) }
        case "RS256", "ES256":
            guard let jwks else { throw APIError.unauthorized("unsupported_algorithm", "\(header.alg) tokens are not accepted here") }
            guard let kid = header.kid, let keys = try await jwks.keys(for: kid, algorithm: header.alg) else {
                throw APIError.unauthorized("unknown_key", "the token's signing key is not in the key set")
            }
            claims = try await Self.checkSignature { try await keys.verify(token, as: UserClaims.self) }
        default:
            throw APIError.unauthorized("unsupported_algorithm", "tokens signed with \"\(header.alg)\" are refused")
        }
        guard claims.exp.value.timeIntervalSince(now) > -Self.leeway else { throw APIError.unauthorized("token_expired", "the token has expired") }
        if let nbf = claims.nbf, nbf.value.timeIntervalSince(now) > Self.leeway {
            throw APIError.unauthorized("token_not_yet_valid", "the token is not valid yet")
        }
        guard claims.aud?.value.contains(Self.audience) == true else {
            throw APIError.unauthorized("invalid_audience", "the token is not for audience \"\(Self.audience)\"")
        }
        return claims
    }

    struct Header: Decodable {
        let alg: String
        let kid: String?
    }

    static func header(of token: String) throws -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URLEncoded: String(parts[0])), let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw APIError.unauthorized("invalid_token", "the token is malformed") }
        return header
    }

    static func checkSignature(_ verify: () async throws -> UserClaims) async throws -> UserClaims {
        do {
            return try await verify()
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw APIError.unauthorized("invalid_signature", "the token's signature does not verify")
        } catch {
            throw APIError.unauthorized("invalid_token", "the token is malformed or lacks required claims")
        }
    }
}

/// The JWKS of `JWT_JWKS_URL`, cached for ten minutes and fetched again when a token names an unknown key
/// (at most every ten seconds, so unknown `kid`s cannot make the gateway hammer the key server).
public actor JWKSCache {
    struct KeyInfo: Decodable {
        let kid: String?
        let kty: String
        let alg: String?
    }

    struct KeySet: Decodable {
        let keys: [KeyInfo]
    }

    let url: String
    let http: HTTPClient
    let maxAge: Duration
    let minRefetchInterval: Duration
    private var collection = JWTKeyCollection()
    private var index: [String: KeyInfo] = [:]
    private var fetchedAt: ContinuousClock.Instant?
    private var lastAttempt: ContinuousClock.Instant?
    private var refresh: Task<Void, any Error>?

    public init(url: String, http: HTTPClient, maxAge: Duration = .seconds(600), minRefetchInterval: Duration = .seconds(10)) {
        self.url = url
        self.http = http
        self.maxAge = maxAge
        self.minRefetchInterval = minRefetchInterval
    }

    /// The key collection when it holds `kid` for an algorithm of the key's type; nil when the key is unknown.
    func keys(for kid: String, algorithm: String) async throws -> JWTKeyCollection? {
        let now = ContinuousClock.now
        let expired = fetchedAt.map { now - $0 > maxAge } ?? true
        let mayRefetch = lastAttempt.map { now - $0 > minRefetchInterval } ?? true
        if expired || (index[kid] == nil && mayRefetch) {
            do {
                try await refreshOnce()
            } catch where fetchedAt != nil {
                // A key server hiccup keeps the keys we have.
            } catch {
                throw APIError(.serviceUnavailable, "jwks_unavailable", "the signing keys cannot be fetched")
            }
        }
        guard let info = index[kid] else { return nil }
        let expectedType = algorithm.hasPrefix("RS") ? "RSA" : "EC"
        guard info.kty == expectedType, info.alg == nil || info.alg == algorithm else { return nil }
        return collection
    }

    /// Concurrent callers share one fetch.
    private func refreshOnce() async throws {
        if let refresh { return try await refresh.value }
        let task = Task { try await self.fetch() }
        refresh = task
        defer { refresh = nil }
        try await task.value
    }

    private func fetch() async throws {
        lastAttempt = .now
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await http.execute(request, timeout: .seconds(3))
        guard response.status == .ok else { throw APIError(.serviceUnavailable, "jwks_unavailable", "key server answered \(response.status.code)") }
        let body = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        let set = try JSONDecoder().decode(KeySet.self, from: body)
        let keys = JWTKeyCollection()
        try await keys.add(jwks: JSONDecoder().decode(JWKS.self, from: body))
        collection = keys
        index = Dictionary(set.keys.compactMap { info in info.kid.map { ($0, info) } }, uniquingKeysWith: { first, _ in first })
        fetchedAt = .now
    }
}

extension Data {
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
