import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// A service built like the real ones, with two routes of its own to exercise the shared stack.
func makeTestService(
    schema: String,
    migrateOnStart: Bool = true,
    metrics: HTTPMetrics = HTTPMetrics(),
    flakyCalls: FlakyCounter = FlakyCounter(failures: 0)
) async throws -> ServiceApplication {
    let descriptor = ServiceDescriptor(
        name: "test-service",
        schema: schema,
        defaultPort: 0,
        migrations: [Migration(1, "things", ["CREATE TABLE \(schema).things (id bigint PRIMARY KEY)"])]
    )
    return await buildServiceApplication(descriptor, configuration: try TestSupport.serviceConfiguration(migrateOnStart: migrateOnStart), metrics: metrics) {
        router, _ in
        struct Thing: Codable, ResponseEncodable {
            let name: String
            let count: Int
        }
        router.post("/things") { request, context in
            try await request.decode(as: Thing.self, context: context)
        }
        router.get("/whoami") { _, context in
            try context.requireUser().subject
        }
        router.get("/caller") { _, context in
            let identity = try context.requireIdentity()
            return "\(identity.subject) \(identity.role.rawValue) \(identity.requestID ?? "-")"
        }
        router.on("/flaky", method: .get) { _, _ in try flakyCalls.answer() }
        router.on("/flaky", method: .post) { _, _ in try flakyCalls.answer() }
    }
}

/// Fails with 503 for the first `failures` calls, then answers 200.
final class FlakyCounter: Sendable {
    let failures: Int
    let calls = Mutex(0)

    init(failures: Int) {
        self.failures = failures
    }

    func answer() throws -> HTTPResponse.Status {
        let call = calls.withLock { count in
            count += 1
            return count
        }
        guard call > failures else { throw APIError(.serviceUnavailable, "warming_up", "not yet") }
        return .ok
    }
}

func identityHeader(_ identity: Identity) async throws -> HTTPFields {
    let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
    return [.revmeshIdentity: try await tokens.mint(identity, issuer: "gateway")]
}

func envelope(_ response: TestResponse) throws -> ErrorEnvelope {
    try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: response.body))
}

@Suite struct ServiceApplicationTests {
    let user = Identity(subject: "user-7", role: .user, scheme: "user")

    @Test func probesAreOpenAndReadyAfterMigrations() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func notReadyWhileMigrationsArePending() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"), migrateOnStart: false)
        try await app.test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { response async throws in
                #expect(response.status == .serviceUnavailable)
                #expect(try envelope(response).error.code == "migrations_pending")
            }
        }
    }

    @Test func requestsWithoutIdentityAre401() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/whoami", method: .get) { response async throws in
                #expect(response.status == .unauthorized)
                let body = try envelope(response)
                #expect(body.error.code == "missing_identity")
                #expect(body.error.requestID == response.headers[.requestID])
            }
            try await client.execute(uri: "/whoami", method: .get, headers: [.revmeshIdentity: "forged.token.value"]) { response async throws in
                #expect(response.status == .unauthorized)
                #expect(try envelope(response).error.code == "invalid_identity")
            }
            try await client.execute(uri: "/whoami", method: .get, headers: try await identityHeader(user)) { response async throws in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "user-7")
            }
        }
    }

    @Test func errorsUseTheEnvelope() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        let headers = try await identityHeader(user)
        try await app.test(.router) { client in
            try await client.execute(uri: "/no/such/route", method: .get, headers: headers) { response async throws in
                #expect(response.status == .notFound)
                #expect(try envelope(response).error.code == "not_found")
            }
            try await client.execute(uri: "/things", method: .post, headers: headers, body: ByteBuffer(string: "{\"name\": 3}")) { response async throws in
                #expect(response.status == .badRequest)
                let body = try envelope(response)
                #expect(body.error.message.contains("name"))
            }
            try await client.execute(uri: "/things", method: .post, headers: headers, body: ByteBuffer(string: "{not json")) { response async throws in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func keepsTheRequestIDItIsGiven() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get, headers: [.requestID: "abc-123"]) { response async throws in
                #expect(response.headers[.requestID] == "abc-123")
            }
            try await client.execute(uri: "/health", method: .get, headers: [.requestID: "bad id\u{7f}"]) { response async throws in
                #expect(response.headers[.requestID] != "bad id\u{7f}")
            }
        }
    }

    @Test func metricsCountRequestsByRouteAndStatus() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        let headers = try await identityHeader(user)
        try await app.test(.router) { client in
            for _ in 0..<3 { try await client.execute(uri: "/whoami", method: .get, headers: headers) }
            try await client.execute(uri: "/whoami", method: .get)
            try await client.execute(uri: "/metrics", method: .get) { response async throws in
                let text = String(buffer: response.body)
                #expect(text.contains(#"http_requests_total{route="/whoami",method="GET",status="200"} 3"#))
                #expect(text.contains(#"http_requests_total{route="/whoami",method="GET",status="401"} 1"#))
                #expect(text.contains("http_request_duration_seconds_bucket"))
            }
        }
    }
}
