import Contracts
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Gateway

final class Counter: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    func increment() { count.withLock { $0 += 1 } }
}

/// What reached the upstream service, as it reports it.
struct EchoReport: Codable, ResponseEncodable {
    var subject: String
    var role: String
    var scheme: String
    var apiKeyID: String?
    var scopes: [String]
    var requestID: String?
    var headers: [String]
    var path: String
    var bodyBytes: Int
    var cookie: String?
}

/// A real ServiceKit service behind the gateway: it checks the identity token like every service and reports
/// what it received. `/slow` answers only once the test releases it.
func makeEchoService(requests: Counter, release: AsyncStream<Void>) async throws -> ServiceApplication {
    let descriptor = ServiceDescriptor(name: "echo", schema: "gateway_echo", defaultPort: 0, migrations: [])
    return await buildServiceApplication(descriptor, configuration: try TestSupport.serviceConfiguration(), bodyLimit: 64 * 1024 * 1024) {
        router,
        _ in
        router.get("/slow") { _, _ in
            for await _ in release {}
            return "late"
        }
        // A live stream, as `/api/stream` is: one event, then a keep-alive comment every 50 ms until the client goes.
        router.get("/events") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "event: open\ndata: {}\n\n"))
                    for _ in 0..<600 {
                        try await Task.sleep(for: .milliseconds(50))
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("**", method: method) { request, context in
                let identity = try context.requireIdentity()
                requests.increment()
                var bytes = 0
                for try await chunk in request.body { bytes += chunk.readableBytes }
                return EchoReport(
                    subject: identity.subject,
                    role: identity.role.rawValue,
                    scheme: identity.scheme,
                    apiKeyID: identity.apiKeyID,
                    scopes: identity.scopes,
                    requestID: identity.requestID,
                    headers: request.headers.map { $0.name.canonicalName }.sorted(),
                    path: request.uri.path,
                    bodyBytes: bytes,
                    cookie: request.headers[.cookie]
                )
            }
        }
    }
}

extension KeyVerification: ResponseEncodable {}

/// Stands in for devops-api's introspection endpoint with a few fixed keys, so each answer the gateway can get is
/// tested on its own (DevOpsAPITests run the real one); it answers only the gateway's service identity.
func makeKeyIntrospection(calls: Counter) async -> some ApplicationProtocol {
    let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
    let router = Router()
    router.post("/internal/keys/verify") { request, context -> KeyVerification in
        guard let token = request.headers[.revmeshIdentity], let caller = try? await tokens.verify(token), caller.subject == "service:gateway" else {
            throw HTTPError(.unauthorized)
        }
        calls.increment()
        let body = try await request.decode(as: [String: String].self, context: context)
        let keys = ["users": ["sync:users"], "revenue": ["sync:revenue"]]
        let name = GatewayHarness.apiKeyNames[body["key"] ?? ""]
        switch name {
        case "expired": return KeyVerification(valid: false, reason: "expired")
        case "revoked": return KeyVerification(valid: false, reason: "revoked")
        case let name? where keys[name] != nil:
            let permissions = keys[name]!
            guard permissions.contains(body["scope"] ?? "") else { return KeyVerification(valid: false, reason: "missing_scope") }
            return KeyVerification(valid: true, keyId: "key_" + name, owner: "owner-1", permissions: permissions)
        default: return KeyVerification(valid: false, reason: "unknown")
        }
    }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

/// RSA keys for the JWKS tests: `known` is published in the key set, `unknown` is not.
enum TestKeys {
    static let known = try! JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    static let unknown = try! JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))

    static func jwks() throws -> String {
        let (modulus, exponent) = try known.publicKey.getKeyPrimitives()
        func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return #"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"\#(base64URL(modulus))","e":"\#(base64URL(exponent))"}]}"#
    }

    static func rs256(_ claims: UserClaims, key: JWTKit.Insecure.RSA.PrivateKey, kid: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }
}

func makeJWKSServer() throws -> some ApplicationProtocol {
    let body = try TestKeys.jwks()
    let router = Router()
    router.get("/jwks.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

/// A live gateway in front of a live echo service, a key introspection endpoint and a JWKS, with one route per scheme.
struct GatewayHarness: Sendable {
    static let cronSecret = "cron-secret-for-tests-0123456789"
    static let stripeSecret = "whsec_test_0123456789abcdef"
    static let origin = "https://app.example.com"
    static let secretFileContent = "top secret outside the frontend"

    let gateway: any TestClientProtocol
    let echo: any TestClientProtocol
    let echoRequests: Counter
    let keyCalls: Counter
    let metrics: HTTPMetrics

    /// `routes` adds services and routes to the standard ones; `configure` changes the gateway's settings.
    static func run(
        devopsReachable: Bool = true,
        routes: String = "",
        configure: @Sendable (inout GatewaySettings) -> Void = { _ in },
        _ test: @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let echoRequests = Counter()
        let keyCalls = Counter()
        let (release, releaseAll) = AsyncStream.makeStream(of: Void.self)
        let echoApp = try await makeEchoService(requests: echoRequests, release: release)
        let keyApp = await makeKeyIntrospection(calls: keyCalls)
        let jwksApp = try makeJWKSServer()
        let frontend = try makeFrontend()
        try await echoApp.test(.live) { echo in
            try await keyApp.test(.live) { keys in
                try await jwksApp.test(.live) { jwks in
                    let devopsPort = devopsReachable ? keys.port! : TestSupport.refusingPort
                    let config = try GatewayConfig.parse(
                        """
                        listen 127.0.0.1:0
                        frontend \(frontend.path)/site
                        service echo        http://127.0.0.1:\(echo.port!)
                        service devops-api  http://127.0.0.1:\(devopsPort)
                        service down        http://127.0.0.1:\(TestSupport.refusingPort)
                        route GET  /open/*      echo auth=none
                        route GET  /cookie      echo auth=none cookies=keep,also
                        route GET  /me          echo auth=user
                        route GET  /maybe       echo auth=user-optional
                        route GET  /admin       echo auth=admin
                        route POST /cron        echo auth=bearer-secret(TEST_CRON_SECRET)
                        route POST /stripe      echo auth=stripe-signature(TEST_STRIPE_SECRET) body=1k
                        route GET  /keys/users  echo auth=api-key(sync:users)
                        route GET  /limited     echo auth=user limit=3/hour
                        route POST /upload      echo auth=none
                        route POST /small       echo auth=none body=1k
                        route GET  /slow        echo auth=none timeout=200ms
                        route GET  /events      echo auth=none stream=true
                        route GET  /down        down auth=none
                        \(routes)
                        """,
                        environment: [:]
                    )
                    var settings = GatewaySettings(
                        config: config,
                        internalSecret: TestSupport.internalSecret,
                        supabaseJWTSecret: TestSupport.userSecret,
                        jwksURL: "http://127.0.0.1:\(jwks.port!)/jwks.json",
                        secrets: ["TEST_CRON_SECRET": cronSecret, "TEST_STRIPE_SECRET": stripeSecret],
                        cors: CORSPolicy(origins: [origin], anyOrigin: false, allowCredentials: true)
                    )
                    settings.logLevel = .warning
                    // Generous: under a loaded machine an in-process upstream can take a second to answer, and no test waits on it.
                    settings.readinessTimeout = .seconds(5)
                    settings.metricsPort = 0
                    configure(&settings)
                    let metrics = HTTPMetrics()
                    try await buildGateway(settings, metrics: metrics).test(.live) { gateway in
                        // The held `/slow` request must end before the echo service's graceful shutdown waits on it.
                        defer { releaseAll.finish() }
                        try await test(GatewayHarness(gateway: gateway, echo: echo, echoRequests: echoRequests, keyCalls: keyCalls, metrics: metrics))
                    }
                }
            }
        }
    }

    /// `site/index.html` is served; `secret.txt` sits beside the site and must never be.
    static func makeFrontend() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("revmesh-frontend-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("site"), withIntermediateDirectories: true)
        try Data("<h1>Revmesh</h1>".utf8).write(to: root.appendingPathComponent("site/index.html"))
        try Data(secretFileContent.utf8).write(to: root.appendingPathComponent("secret.txt"))
        return root
    }

    static func userToken(
        _ subject: String = "user-1",
        admin: Bool = false,
        issuedAt: Date = Date(),
        lifetime: TimeInterval = 3600,
        secret: String = TestSupport.userSecret,
        audience: String? = nil
    ) async throws -> String {
        var claims = UserClaims(subject: subject, email: "\(subject)@example.com", admin: admin, issuedAt: issuedAt, lifetime: lifetime)
        if let audience { claims.aud = .init(value: audience) }
        return try await UserTokenVerifier.mint(claims, hmacSecret: secret)
    }

    /// A well-formed key (right prefix and checksum) named for what the key introspection stand-in answers for it:
    /// `users` and `revenue` carry their sync scope; `expired`, `revoked` and any other name are refused.
    static func apiKey(_ name: String) -> String {
        APIKeyFormat.make(from: Array((name + String(repeating: "-", count: 24)).utf8.prefix(24)))
    }

    static let apiKeyNames = Dictionary(uniqueKeysWithValues: ["users", "revenue", "expired", "revoked", "unknown"].map { (apiKey($0), $0) })

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }
}

func decodeEnvelope(_ response: TestResponse) throws -> ErrorEnvelope {
    try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: response.body))
}

func decodeReport(_ response: TestResponse) throws -> EchoReport {
    try JSONDecoder().decode(EchoReport.self, from: Data(buffer: response.body))
}

/// Asserts an error answer: its status and code, in the envelope.
func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect((try? decodeEnvelope(response))?.error.code == code, "body: \(String(buffer: response.body))", sourceLocation: sourceLocation)
}
