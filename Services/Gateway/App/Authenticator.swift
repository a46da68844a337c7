import Contracts
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus
import ServiceKit
import StripeKit

/// Checks a request against its route's auth scheme and says who is calling.
struct Authenticator: Sendable {
    let users: UserTokenVerifier
    /// Values of the variables named by `bearer-secret(…)` and `stripe-signature(…)` routes.
    let secrets: [String: String]
    let apiKeys: APIKeyVerifier?
    let metrics: HTTPMetrics
    static let defaultSignedBodyLimit = 1024 * 1024

    func authenticate(_ route: GatewayConfig.Route, request: inout Request, context: ServiceRequestContext) async throws -> Identity {
        let clientIP = context.remoteAddress?.ipAddress
        switch route.auth {
        case .none:
            return Identity(subject: "anonymous", role: .anonymous, scheme: "none", requestID: context.requestID, clientIP: clientIP)
        case .userOptional:
            guard request.headers[.authorization] != nil else {
                return Identity(subject: "anonymous", role: .anonymous, scheme: "user-optional", requestID: context.requestID, clientIP: clientIP)
            }
            return try await user(request, scheme: "user-optional", requestID: context.requestID)
        case .user:
            return try await user(request, scheme: "user", requestID: context.requestID)
        case .admin:
            let identity = try await user(request, scheme: "admin", requestID: context.requestID)
            guard identity.role == .admin else { throw APIError.forbidden("admin_required", "this endpoint needs an admin") }
            return identity
        case .bearerSecret(let variable):
            guard let presented = Self.bearerToken(request) else {
                throw APIError.unauthorized("missing_credentials", "send Authorization: Bearer <secret>")
            }
            metrics.credentialChecked("bearer-secret")
            guard Self.constantTimeEqual(presented, secrets[variable] ?? "") else {
                throw APIError.unauthorized("invalid_credentials", "the bearer secret is wrong")
            }
            return Identity(subject: "service:\(route.pattern.text)", role: .service, scheme: "bearer-secret", requestID: context.requestID)
        case .stripeSignature(let variable):
            guard let header = request.headers[HTTPField.Name("Stripe-Signature")!] else {
                throw APIError.unauthorized("missing_signature", "the Stripe-Signature header is missing")
            }
            // The signature covers the raw bytes, so this is the one scheme that reads the body before forwarding it.
            let body = try await request.body.collect(upTo: route.bodyLimit ?? Self.defaultSignedBodyLimit)
            request.body = .init(buffer: body)
            metrics.credentialChecked("stripe-signature")
            do {
                try StripeWebhookSignature.verify(payload: body.readableBytesView, header: header, secret: secrets[variable] ?? "")
            } catch StripeWebhookSignature.Failure.timestampOutsideTolerance {
                throw APIError.unauthorized("signature_expired", "the Stripe signature's timestamp is outside the 300 s tolerance")
            } catch {
                throw APIError.unauthorized("invalid_signature", "the Stripe signature does not match the body")
            }
            return Identity(subject: "stripe", role: .stripe, scheme: "stripe-signature", requestID: context.requestID)
        case .apiKey(let scope):
            guard let key = request.headers[HTTPField.Name("x-api-key")!], !key.isEmpty else {
                throw APIError.unauthorized("missing_api_key", "send the API key in the x-api-key header")
            }
            // A made-up or mistyped key fails its checksum here, so guessing costs devops-api nothing.
            guard APIKeyFormat.isWellFormed(key) else { throw APIError.unauthorized("invalid_api_key", "this API key is not valid") }
            guard let apiKeys else { throw APIError(.serviceUnavailable, "key_service_unavailable", "API keys cannot be checked") }
            metrics.credentialChecked("api-key")
            let answer = try await apiKeys.verify(key: key, scope: scope, requestID: context.requestID)
            guard answer.valid, let keyID = answer.keyId else {
                switch answer.reason {
                case "missing_scope": throw APIError.forbidden("insufficient_scope", "this API key lacks the \(scope) permission")
                case "expired": throw APIError.unauthorized("api_key_expired", "this API key has expired")
                case "revoked": throw APIError.unauthorized("api_key_revoked", "this API key has been revoked")
                default: throw APIError.unauthorized("invalid_api_key", "this API key is not valid")
                }
            }
            return Identity(
                subject: answer.owner ?? "api-key:\(keyID)",
                role: .apiKey,
                scheme: "api-key",
                apiKeyID: keyID,
                scopes: answer.permissions ?? [],
                requestID: context.requestID
            )
        }
    }

    private func user(_ request: Request, scheme: String, requestID: String) async throws -> Identity {
        guard let token = Self.bearerToken(request) else {
            throw APIError.unauthorized("missing_credentials", "send Authorization: Bearer <token>")
        }
        metrics.credentialChecked("user")
        let claims = try await users.verify(token)
        return Identity(
            subject: claims.sub.value,
            role: claims.isAdmin ? .admin : .user,
            email: claims.email,
            scheme: scheme,
            requestID: requestID,
            credentialExpiresAt: claims.exp.value
        )
    }

    static func bearerToken(_ request: Request) -> String? {
        guard let value = request.headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Compares digests, so the time taken says nothing about how much of the secret matched.
    static func constantTimeEqual(_ presented: String, _ expected: String) -> Bool {
        !expected.isEmpty && SHA256.hash(data: Data(presented.utf8)) == SHA256.hash(data: Data(expected.utf8))
    }

    /// What a rate limit counts by.
    static func rateLimitKey(_ identity: Identity) -> String {
        switch identity.role {
        case .anonymous: "ip:\(identity.clientIP ?? "unknown")"
        case .apiKey: "key:\(identity.apiKeyID ?? identity.subject)"
        default: "sub:\(identity.subject)"
        }
    }
}

extension HTTPMetrics {
    static var credentialChecks: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "gateway_credential_checks",
            unitName: "total",
            helpText: "Credentials the gateway checked (a secret compared, a signature or token verified, a key looked up)"
        )
    }

    func credentialChecked(_ scheme: String) {
        registry.makeCounter(descriptor: Self.credentialChecks, labels: [("scheme", scheme)]).increment()
    }
}
