import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import Gateway

/// Each auth scheme, through a live gateway in front of a live service.
@Suite struct GatewayAuthTests {
    typealias H = GatewayHarness

    @Test func userRoutesAcceptAValidTokenAndPassTheIdentityOn() async throws {
        try await H.run { h in
            let response = try await h.gateway.execute(uri: "/me", method: .get, headers: H.bearer(try await H.userToken("user-1")))
            #expect(response.status == .ok)
            let report = try decodeReport(response)
            #expect(report.subject == "user-1")
            #expect(report.role == "authenticated")
            #expect(report.scheme == "user")
        }
    }

    @Test func userRoutesRefuseEveryBadToken() async throws {
        try await H.run { h in
            func call(_ headers: HTTPFields) async throws -> TestResponse { try await h.gateway.execute(uri: "/me", method: .get, headers: headers) }
            let now = Date()
            expectError(try await call([:]), .unauthorized, "missing_credentials")
            expectError(try await call(H.bearer("not-a-jwt")), .unauthorized, "invalid_token")
            expectError(try await call([.authorization: "Basic dXNlcjpwYXNz"]), .unauthorized, "missing_credentials")
            expectError(
                try await call(H.bearer(try await H.userToken(issuedAt: now.addingTimeInterval(-3600), lifetime: 60))),
                .unauthorized,
                "token_expired"
            )
            expectError(try await call(H.bearer(try await H.userToken(audience: "service_role"))), .unauthorized, "invalid_audience")
            expectError(
                try await call(H.bearer(try await H.userToken(secret: "another-secret-of-at-least-32-bytes!!"))),
                .unauthorized,
                "invalid_signature"
            )
            // alg "none": a token that claims to need no signature.
            let payload = try JSONEncoder().encode(UserClaims(subject: "user-1", email: nil, admin: true, issuedAt: now, lifetime: 600))
            let unsigned = "\(base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))).\(base64URL(payload))."
            expectError(try await call(H.bearer(unsigned)), .unauthorized, "unsupported_algorithm")
            #expect(h.echoRequests.value == 0)
        }
    }

    @Test func tokensFromTheJWKSAreCheckedByKeyID() async throws {
        try await H.run { h in
            let claims = UserClaims(subject: "jwks-user", email: nil, admin: false, issuedAt: Date(), lifetime: 600)
            let good = try await TestKeys.rs256(claims, key: TestKeys.known, kid: "k1")
            let response = try await h.gateway.execute(uri: "/me", method: .get, headers: H.bearer(good))
            #expect(response.status == .ok)
            #expect(try decodeReport(response).subject == "jwks-user")

            let unknownKey = try await TestKeys.rs256(claims, key: TestKeys.unknown, kid: "k2")
            expectError(try await h.gateway.execute(uri: "/me", method: .get, headers: H.bearer(unknownKey)), .unauthorized, "unknown_key")
            let wrongKeySameKid = try await TestKeys.rs256(claims, key: TestKeys.unknown, kid: "k1")
            expectError(
                try await h.gateway.execute(uri: "/me", method: .get, headers: H.bearer(wrongKeySameKid)),
                .unauthorized,
                "invalid_signature"
            )
            // Algorithm confusion: an HS256 token keyed with the published RSA public key must not verify.
            let confused = try await UserTokenVerifier.mint(claims, hmacSecret: TestKeys.known.publicKey.pemRepresentation)
            expectError(try await h.gateway.execute(uri: "/me", method: .get, headers: H.bearer(confused)), .unauthorized, "invalid_signature")
        }
    }

    @Test func userOptionalLetsAnonymousThroughButNotABadToken() async throws {
        try await H.run { h in
            let anonymous = try await h.gateway.execute(uri: "/maybe", method: .get)
            #expect(anonymous.status == .ok)
            #expect(try decodeReport(anonymous).role == "anon")
            let user = try await h.gateway.execute(uri: "/maybe", method: .get, headers: H.bearer(try await H.userToken("user-9")))
            #expect(try decodeReport(user).subject == "user-9")
            expectError(try await h.gateway.execute(uri: "/maybe", method: .get, headers: H.bearer("garbage")), .unauthorized, "invalid_token")
        }
    }

    @Test func adminRoutesNeedTheAdminRole() async throws {
        try await H.run { h in
            expectError(
                try await h.gateway.execute(uri: "/admin", method: .get, headers: H.bearer(try await H.userToken("user-1"))),
                .forbidden,
                "admin_required"
            )
            let admin = try await h.gateway.execute(uri: "/admin", method: .get, headers: H.bearer(try await H.userToken("boss", admin: true)))
            #expect(admin.status == .ok)
            #expect(try decodeReport(admin).role == "admin")
        }
    }

    @Test func bearerSecretRoutesCompareTheSecret() async throws {
        try await H.run { h in
            expectError(try await h.gateway.execute(uri: "/cron", method: .post), .unauthorized, "missing_credentials")
            expectError(try await h.gateway.execute(uri: "/cron", method: .post, headers: H.bearer("wrong")), .unauthorized, "invalid_credentials")
            let response = try await h.gateway.execute(uri: "/cron", method: .post, headers: H.bearer(H.cronSecret))
            #expect(response.status == .ok)
            #expect(try decodeReport(response).role == "service")
            #expect(!(try decodeReport(response).headers.contains("authorization")))
        }
    }

    @Test func stripeSignatureRoutesVerifyTheRawBody() async throws {
        try await H.run { h in
            let body = #"{"id":"evt_1","type":"invoice.payment_succeeded"}"#
            func post(_ payload: String, signedAt: Date, signing: String? = nil) async throws -> TestResponse {
                let header = StripeWebhookSignature.header(for: Data((signing ?? payload).utf8), secret: H.stripeSecret, timestamp: signedAt)
                return try await h.gateway.execute(
                    uri: "/stripe",
                    method: .post,
                    headers: [HTTPField.Name("Stripe-Signature")!: header, .contentType: "application/json"],
                    body: ByteBuffer(string: payload)
                )
            }
            let accepted = try await post(body, signedAt: Date())
            #expect(accepted.status == .ok)
            #expect(try decodeReport(accepted).bodyBytes == body.utf8.count)
            #expect(try decodeReport(accepted).role == "stripe")
            let reached = h.echoRequests.value

            expectError(try await post(body, signedAt: Date().addingTimeInterval(-301)), .unauthorized, "signature_expired")
            expectError(
                try await post(body.replacingOccurrences(of: "evt_1", with: "evt_2"), signedAt: Date(), signing: body),
                .unauthorized,
                "invalid_signature"
            )
            expectError(
                try await h.gateway.execute(uri: "/stripe", method: .post, body: ByteBuffer(string: body)),
                .unauthorized,
                "missing_signature"
            )
            let large = String(repeating: "x", count: 2048)
            expectError(try await post(large, signedAt: Date()), .contentTooLarge, "payload_too_large")
            #expect(h.echoRequests.value == reached, "refused webhooks must not reach the service")
        }
    }

    @Test func apiKeyRoutesAskDevopsAndCacheTheAnswer() async throws {
        try await H.run { h in
            func call(_ key: String?) async throws -> TestResponse {
                try await h.gateway.execute(uri: "/keys/users", method: .get, headers: key.map { [HTTPField.Name("x-api-key")!: $0] } ?? [:])
            }
            let ok = try await call(H.apiKey("users"))
            #expect(ok.status == .ok)
            let report = try decodeReport(ok)
            #expect(report.apiKeyID == "key_users")
            #expect(report.scopes == ["sync:users"])
            #expect(!report.headers.contains("x-api-key"))
            #expect(try await call(H.apiKey("users")).status == .ok)
            #expect(h.keyCalls.value == 1, "the second call is answered from the cache")

            expectError(try await call(nil), .unauthorized, "missing_api_key")
            expectError(try await call(H.apiKey("unknown")), .unauthorized, "invalid_api_key")
            expectError(try await call(H.apiKey("revenue")), .forbidden, "insufficient_scope")
            expectError(try await call(H.apiKey("expired")), .unauthorized, "api_key_expired")
            expectError(try await call(H.apiKey("revoked")), .unauthorized, "api_key_revoked")
        }
    }

    @Test func apiKeysAreNeverLetThroughWhenDevopsCannotBeAsked() async throws {
        try await H.run(devopsReachable: false) { h in
            let response = try await h.gateway.execute(uri: "/keys/users", method: .get, headers: [HTTPField.Name("x-api-key")!: H.apiKey("users")])
            expectError(response, .serviceUnavailable, "key_service_unavailable")
            #expect(h.echoRequests.value == 0)
        }
    }

    @Test func clientSentIdentityHeadersAndCredentialsNeverReachTheService() async throws {
        try await H.run { h in
            let forged = try await IdentityTokens(secret: TestSupport.internalSecret).mint(
                Identity(subject: "root", role: .admin, scheme: "user"),
                issuer: "gateway"
            )
            let response = try await h.gateway.execute(
                uri: "/open/anything?x=1",
                method: .get,
                headers: [
                    .revmeshIdentity: forged,
                    HTTPField.Name("X-Revmesh-Role")!: "admin",
                    .cookie: "session=abc",
                    .authorization: "Bearer something",
                    HTTPField.Name("x-api-key")!: H.apiKey("users"),
                    .requestID: "client-req-1",
                ]
            )
            #expect(response.status == .ok)
            let report = try decodeReport(response)
            #expect(report.subject == "anonymous")
            #expect(report.role == "anon")
            #expect(!report.headers.contains("x-revmesh-role"))
            #expect(!report.headers.contains("cookie"))
            #expect(!report.headers.contains("authorization"))
            #expect(!report.headers.contains("x-api-key"))
            #expect(report.headers.contains("x-forwarded-for"))
            #expect(report.requestID == "client-req-1")
            #expect(response.headers[.requestID] == "client-req-1")
        }
    }

    @Test func aRouteForwardsOnlyTheCookiesItNames() async throws {
        try await H.run { h in
            let response = try await h.gateway.execute(
                uri: "/cookie",
                method: .get,
                headers: [.cookie: "session=abc; keep=1; other=2", HTTPField.Name("Cookie")!: "also=3"]
            )
            #expect(try decodeReport(response).cookie == "keep=1; also=3")
            let none = try await h.gateway.execute(uri: "/cookie", method: .get, headers: [.cookie: "session=abc"])
            #expect(try decodeReport(none).cookie == nil)
        }
    }

    @Test func aServiceCalledDirectlyWithoutIdentityIs401() async throws {
        try await H.run { h in
            expectError(try await h.echo.execute(uri: "/open/anything", method: .get), .unauthorized, "missing_identity")
        }
    }

    func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "=",
            with: ""
        )
    }
}
