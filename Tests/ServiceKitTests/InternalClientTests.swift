import AsyncHTTPClient
import HummingbirdTesting
import ServiceKit
import TestSupport
import Testing

@Suite struct InternalClientTests {
    @discardableResult func withClient<Value: Sendable>(_ body: @Sendable (InternalClient) async throws -> Value) async throws -> Value {
        var configuration = HTTPClient.Configuration.internalCalls
        // AsyncHTTPClient keeps retrying a refused connection until the connect timeout; keep dead-peer tests short.
        configuration.timeout.connect = .milliseconds(200)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let client = InternalClient(
            http: http,
            tokens: tokens,
            serviceName: "insights-usage",
            retry: RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
        )
        do {
            let value = try await body(client)
            try await http.shutdown()
            return value
        } catch {
            try await http.shutdown()
            throw error
        }
    }

    @Test func attachesServiceIdentityAndRequestID() async throws {
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"))
        try await app.test(.live) { live in
            let port = try #require(live.port)
            try await withClient { client in
                let reply = try await client.send(.init(.GET, "http://127.0.0.1:\(port)/caller"), requestID: "req-42")
                #expect(reply.status == .ok)
                #expect(String(buffer: reply.body) == "service:insights-usage service req-42")
                #expect(reply.headers.first(name: "X-Request-Id") == "req-42")
            }
        }
    }

    @Test func retriesIdempotentCallsThroughTransientFailures() async throws {
        let flaky = FlakyCounter(failures: 2)
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"), flakyCalls: flaky)
        try await app.test(.live) { live in
            let port = try #require(live.port)
            try await withClient { client in
                let reply = try await client.send(.init(.GET, "http://127.0.0.1:\(port)/flaky"), requestID: nil)
                #expect(reply.status == .ok)
                #expect(flaky.calls.withLock { $0 } == 3)
            }
        }
    }

    @Test func doesNotRepeatAPostWithoutAnIdempotencyKey() async throws {
        let flaky = FlakyCounter(failures: 2)
        let app = try await makeTestService(schema: TestSupport.uniqueSchema("svc"), flakyCalls: flaky)
        try await app.test(.live) { live in
            let port = try #require(live.port)
            try await withClient { client in
                let reply = try await client.send(.init(.POST, "http://127.0.0.1:\(port)/flaky"), requestID: nil)
                #expect(reply.status == .serviceUnavailable)
                #expect(flaky.calls.withLock { $0 } == 1)
                let keyed = try await client.send(.init(.POST, "http://127.0.0.1:\(port)/flaky", headers: ["Idempotency-Key": "k1"]), requestID: nil)
                #expect(keyed.status == .ok)
            }
        }
    }

    @Test func aDeadPeerIsReportedAsUnreachable() async throws {
        let port = TestSupport.refusingPort
        try await withClient { client in
            await #expect(throws: InternalClient.Unreachable.self) {
                try await client.send(.init(.GET, "http://127.0.0.1:\(port)/ready"), requestID: nil)
            }
        }
    }
}
