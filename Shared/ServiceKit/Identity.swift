import Foundation
import JWTKit

/// Who is calling, as the gateway (or a calling service) vouches for it.
public struct Identity: Sendable, Equatable {
    public enum Role: String, Codable, Sendable {
        case anonymous = "anon"
        case user = "authenticated"
        case admin
        case service
        case apiKey = "api_key"
        case stripe
    }

    public var subject: String
    public var role: Role
    public var email: String?
    /// The gateway auth scheme that produced this identity (`user`, `api-key`, `service`, …).
    public var scheme: String
    public var apiKeyID: String?
    public var scopes: [String]
    public var requestID: String?
    /// Kept for anonymous callers so that rate limits have something to count by.
    public var clientIP: String?
    /// When the caller's own credential (a user's token) expires: a long-lived answer such as the live stream ends then.
    public var credentialExpiresAt: Date?

    public init(
        subject: String,
        role: Role,
        email: String? = nil,
        scheme: String,
        apiKeyID: String? = nil,
        scopes: [String] = [],
        requestID: String? = nil,
        clientIP: String? = nil,
        credentialExpiresAt: Date? = nil
    ) {
        self.subject = subject
        self.role = role
        self.email = email
        self.scheme = scheme
        self.apiKeyID = apiKeyID
        self.scopes = scopes
        self.requestID = requestID
        self.clientIP = clientIP
        self.credentialExpiresAt = credentialExpiresAt
    }

    public var isUser: Bool { role == .user || role == .admin }

    public static func service(_ name: String, requestID: String? = nil) -> Identity {
        Identity(subject: "service:\(name)", role: .service, scheme: "service", requestID: requestID)
    }
}

/// Mints and verifies the short-lived `X-Revmesh-Identity` token (HS256 under `INTERNAL_SECRET`).
public struct IdentityTokens: Sendable {
    public static let headerName = "X-Revmesh-Identity"
    static let audience = "revmesh-internal"
    public static let lifetime: TimeInterval = 60
    /// Clock skew allowed between gateway and services.
    static let leeway: TimeInterval = 5

    private let keys: JWTKeyCollection

    public init(secret: String) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    public func mint(_ identity: Identity, issuer: String, now: Date = Date()) async throws -> String {
        try await keys.sign(IdentityClaims(identity, issuer: issuer, now: now))
    }

    public func verify(_ token: String, now: Date = Date()) async throws -> Identity {
        let claims: IdentityClaims
        do {
            claims = try await keys.verify(token, as: IdentityClaims.self)
        } catch {
            throw APIError.unauthorized("invalid_identity", "the identity token is not valid")
        }
        guard claims.aud.value.contains(Self.audience) else {
            throw APIError.unauthorized("invalid_identity", "the identity token is for another audience")
        }
        guard claims.exp.value.timeIntervalSince(now) > -Self.leeway, claims.iat.value.timeIntervalSince(now) < Self.leeway else {
            throw APIError.unauthorized("identity_expired", "the identity token has expired")
        }
        return claims.identity
    }
}

struct IdentityClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var role: Identity.Role
    var email: String?
    var scheme: String
    var keyID: String?
    var scopes: [String]
    var rid: String?
    var ip: String?
    /// The user token's own `exp` (unix seconds).
    var uexp: Int?

    enum CodingKeys: String, CodingKey {
        case sub, iss, aud, iat, exp, role, email, scheme, scopes, rid, ip, uexp
        case keyID = "key_id"
    }

    init(_ identity: Identity, issuer: String, now: Date) {
        sub = .init(value: identity.subject)
        iss = .init(value: issuer)
        aud = .init(value: IdentityTokens.audience)
        iat = .init(value: now)
        exp = .init(value: now.addingTimeInterval(IdentityTokens.lifetime))
        role = identity.role
        email = identity.email
        scheme = identity.scheme
        keyID = identity.apiKeyID
        scopes = identity.scopes
        rid = identity.requestID
        ip = identity.clientIP
        uexp = identity.credentialExpiresAt.map { Int($0.timeIntervalSince1970) }
    }

    var identity: Identity {
        Identity(
            subject: sub.value,
            role: role,
            email: email,
            scheme: scheme,
            apiKeyID: keyID,
            scopes: scopes,
            requestID: rid,
            clientIP: ip,
            credentialExpiresAt: uexp.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        )
    }

    /// Expiry is checked by `IdentityTokens.verify` with its own leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
