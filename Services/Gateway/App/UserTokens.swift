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

/// The JWKS of `JWT_JWKS_URL`. Keys are refreshed every `maxAge` in the background while the last good set keeps
/// serving; a token naming an unknown `kid` waits for a fetch (at most one per `minRefetchInterval`, so made-up
/// `kid`s cannot make the gateway hammer the key server). At most one fetch is ever in flight, failures back off
/// (1 s doubling to 60 s), and once the set is older than `maxStaleness` tokens it would verify are refused with 503.
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
    let maxStaleness: Duration
    let clock: @Sendable () -> ContinuousClock.Instant
    private var collection = JWTKeyCollection()
    private var index: [String: KeyInfo] = [:]
    private var fetchedAt: ContinuousClock.Instant?
    private var lastAttempt: ContinuousClock.Instant?
    private var retryAfter: ContinuousClock.Instant?
    private var consecutiveFailures = 0
    private var inFlight: Task<Void, Never>?
    /// Whether a fetch is running; its outcome (keys or backoff) is recorded before this turns false.
    var isFetching: Bool { inFlight != nil }

    public init(
        url: String,
        http: HTTPClient,
        maxAge: Duration = .seconds(600),
        minRefetchInterval: Duration = .seconds(10),
        maxStaleness: Duration = .seconds(3600),
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.url = url
        self.http = http
        self.maxAge = maxAge
        self.minRefetchInterval = minRefetchInterval
        self.maxStaleness = maxStaleness
        self.clock = clock
    }

    /// The key collection when it holds `kid` for an algorithm of the key's type; nil when the key is unknown.
    func keys(for kid: String, algorithm: String) async throws -> JWTKeyCollection? {
        let now = clock()
        let known = index[kid] != nil
        let age = fetchedAt.map { now - $0 }
        if let age, known, age <= maxStaleness {
            if age > maxAge { _ = startFetch(now: now) }
            return matching(kid, algorithm)
        }
        // An unknown key, nothing fetched yet, or a set past its staleness limit: wait for a fetch, if one may run.
        if let fetch = startFetch(now: now, forUnknownKey: !known && fetchedAt != nil) { await fetch.value }
        guard let fetchedAt, clock() - fetchedAt <= maxStaleness else {
            throw APIError(.serviceUnavailable, "jwks_unavailable", "the signing keys cannot be fetched")
        }
        return matching(kid, algorithm)
    }

    private func matching(_ kid: String, _ algorithm: String) -> JWTKeyCollection? {
        guard let info = index[kid] else { return nil }
        let expectedType = algorithm.hasPrefix("RS") ? "RSA" : "EC"
        guard info.kty == expectedType, info.alg == nil || info.alg == algorithm else { return nil }
        return collection
    }

    /// The fetch in flight, or a new one when the backoff (and, for an unknown key, the refetch interval) allows.
    private func startFetch(now: ContinuousClock.Instant, forUnknownKey: Bool = false) -> Task<Void, Never>? {
        if let inFlight { return inFlight }
        if let retryAfter, now < retryAfter { return nil }
        if forUnknownKey, let lastAttempt, now - lastAttempt < minRefetchInterval { return nil }
        lastAttempt = now
        let fetch = Task { await self.refresh() }
        inFlight = fetch
        return fetch
    }

    private func refresh() async {
        defer { inFlight = nil }
        do {
            let (keys, index) = try await Self.fetch(url, http: http)
            collection = keys
            self.index = index
            fetchedAt = clock()
            consecutiveFailures = 0
            retryAfter = nil
        } catch {
            consecutiveFailures += 1
            retryAfter = clock() + .seconds(min(60, 1 << min(consecutiveFailures - 1, 6)))
        }
    }

    private static func fetch(_ url: String, http: HTTPClient) async throws -> (JWTKeyCollection, [String: KeyInfo]) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await http.execute(request, timeout: .seconds(3))
        guard response.status == .ok else { throw APIError(.serviceUnavailable, "jwks_unavailable", "key server answered \(response.status.code)") }
        let body = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        let set = try JSONDecoder().decode(KeySet.self, from: body)
        let keys = JWTKeyCollection()
        try await keys.add(jwks: JSONDecoder().decode(JWKS.self, from: body))
        let index = Dictionary(set.keys.compactMap { info in info.kid.map { ($0, info) } }, uniquingKeysWith: { first, _ in first })
        return (keys, index)
    }
}

extension Data {
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
