import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Gateway

/// Limits, failures, files and CORS, through a live gateway.
@Suite struct GatewayProxyTests {
    typealias H = GatewayHarness

    @Test func rateLimitsCountPerIdentity() async throws {
        try await H.run { h in
            let first = H.bearer(try await H.userToken("limited-1"))
            for remaining in [2, 1, 0] {
                let response = try await h.gateway.execute(uri: "/limited", method: .get, headers: first)
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("RateLimit-Limit")!] == "3")
                #expect(response.headers[HTTPField.Name("RateLimit-Remaining")!] == String(remaining))
            }
            let refused = try await h.gateway.execute(uri: "/limited", method: .get, headers: first)
            expectError(refused, .tooManyRequests, "rate_limited")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...3600).contains(retryAfter))
            #expect(refused.headers[HTTPField.Name("RateLimit-Reset")!] == String(retryAfter))
            let other = try await h.gateway.execute(uri: "/limited", method: .get, headers: H.bearer(try await H.userToken("limited-2")))
            #expect(other.status == .ok)
        }
    }

    @Test func bodiesOverTheRouteLimitAre413() async throws {
        try await H.run { h in
            expectError(
                try await h.gateway.execute(uri: "/small", method: .post, body: ByteBuffer(repeating: 0x61, count: 2048)),
                .contentTooLarge,
                "payload_too_large"
            )
            let fits = try await h.gateway.execute(uri: "/small", method: .post, body: ByteBuffer(repeating: 0x61, count: 1024))
            #expect(fits.status == .ok)
            #expect(try decodeReport(fits).bodyBytes == 1024)
        }
    }

    /// Far beyond any buffer, yet quick enough for a debug build on a loaded machine (the survival tests send 50 MB).
    @Test func largeUploadsStreamThrough() async throws {
        try await H.run { h in
            let size = 16 * 1024 * 1024
            let response = try await h.gateway.execute(uri: "/upload", method: .post, body: ByteBuffer(repeating: 0x62, count: size))
            #expect(response.status == .ok)
            #expect(try decodeReport(response).bodyBytes == size)
        }
    }

    /// Streams hold their upstream connection as long as the client listens: more of them than the shared pool's 64
    /// connections are open at once, and an ordinary request to the same service is still answered.
    @Test func openStreamsNeverHoldThePoolOtherRequestsWaitOn() async throws {
        try await H.run { h in
            var pool = HTTPClient.Configuration.internalCalls
            pool.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
            try await TestSupport.withHTTPClient(configuration: pool) { http in
                let streams = try await withThrowingTaskGroup(of: StreamReader.self) { group in
                    for _ in 0..<80 { group.addTask { try await StreamReader.open(h.gateway.baseURL + "/events", token: nil, http: http) } }
                    return try await group.reduce(into: [StreamReader]()) { $0.append($1) }
                }
                defer { for stream in streams { stream.close() } }
                for stream in streams {
                    #expect(try await stream.read(until: { $0.event == "open" }).count == 1)
                }
                let ordinary = try await h.gateway.execute(uri: "/open/while-streaming", method: .get)
                #expect(ordinary.status == .ok)
            }
        }
    }

    @Test func aDeadUpstreamIs502AndASlowOneIs504() async throws {
        try await H.run { h in
            expectError(try await h.gateway.execute(uri: "/down", method: .get), .badGateway, "upstream_unavailable")
            expectError(try await h.gateway.execute(uri: "/slow", method: .get), .gatewayTimeout, "upstream_timeout")
        }
    }

    @Test func unmatchedRequestsAre404And405InTheEnvelope() async throws {
        try await H.run { h in
            expectError(try await h.gateway.execute(uri: "/api/nothing", method: .post), .notFound, "not_found")
            let wrongMethod = try await h.gateway.execute(uri: "/me", method: .delete)
            expectError(wrongMethod, .methodNotAllowed, "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "GET")
        }
    }

    @Test func servesTheFrontendAndNothingOutsideIt() async throws {
        try await H.run { h in
            let index = try await h.gateway.execute(uri: "/", method: .get)
            #expect(index.status == .ok)
            #expect(String(buffer: index.body).contains("Revmesh"))
            for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/open/..%2f..%2fsecret.txt", "/open/%2e%2e/x"] {
                let response = try await h.gateway.execute(uri: path, method: .get)
                #expect(response.status != .ok, "\(path)")
                #expect(!String(buffer: response.body).contains(H.secretFileContent), "\(path)")
            }
        }
    }

    @Test func corsAllowsOnlyConfiguredOrigins() async throws {
        try await H.run { h in
            let preflight = try await h.gateway.execute(
                uri: "/me",
                method: .options,
                headers: [.origin: H.origin, .accessControlRequestMethod: "GET", .accessControlRequestHeaders: "authorization"]
            )
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == H.origin)
            #expect(preflight.headers[.accessControlAllowHeaders] == "authorization")
            #expect(preflight.headers[.accessControlAllowMethods] == "GET, HEAD", "only the methods the route table has for /me")
            let unrouted = try await h.gateway.execute(
                uri: "/me",
                method: .options,
                headers: [.origin: H.origin, .accessControlRequestMethod: "DELETE"]
            )
            expectError(unrouted, .forbidden, "cors_method_not_allowed")
            let foreign = try await h.gateway.execute(
                uri: "/me",
                method: .options,
                headers: [.origin: "https://evil.example", .accessControlRequestMethod: "GET"]
            )
            expectError(foreign, .forbidden, "cors_origin_not_allowed")
            let simple = try await h.gateway.execute(uri: "/me", method: .get, headers: [.origin: H.origin])
            #expect(simple.status == .unauthorized)
            #expect(simple.headers[.accessControlAllowOrigin] == H.origin)
            let other = try await h.gateway.execute(uri: "/me", method: .get, headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func corsNeverCombinesAnyOriginWithCredentials() throws {
        #expect(throws: ConfigurationError.self) { try CORSPolicy.parse(origins: "*", allowCredentials: "true") }
        #expect(throws: ConfigurationError.self) { try CORSPolicy.parse(origins: "*,https://a.example", allowCredentials: nil) }
        let any = try CORSPolicy.parse(origins: "*", allowCredentials: nil)
        #expect(any == CORSPolicy(origins: [], anyOrigin: true, allowCredentials: false))
        let listed = try CORSPolicy.parse(origins: "https://a.example, https://b.example", allowCredentials: nil)
        #expect(listed == CORSPolicy(origins: ["https://a.example", "https://b.example"], anyOrigin: false, allowCredentials: true))
    }

    @Test func anyOriginIsAnsweredStarWithoutCredentials() async throws {
        try await H.run(configure: { $0.cors = try! CORSPolicy.parse(origins: "*", allowCredentials: nil) }) { h in
            let response = try await h.gateway.execute(uri: "/open/x", method: .get, headers: [.origin: "https://anywhere.example"])
            #expect(response.headers[.accessControlAllowOrigin] == "*")
            #expect(response.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func everyAnswerCarriesSecurityHeadersAndHTMLAStrictPolicy() async throws {
        try await H.run { h in
            for uri in ["/open/x", "/nowhere", "/health", "/"] {
                let response = try await h.gateway.execute(uri: uri, method: .get)
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(uri)")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(uri)")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "strict-origin-when-cross-origin", "\(uri)")
            }
            let page = try await h.gateway.execute(uri: "/", method: .get)
            let policy = try #require(page.headers[.contentSecurityPolicy])
            #expect(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"))
        }
    }

    @Test func headIsAnsweredOnEveryGetRoute() async throws {
        try await H.run { h in
            for uri in ["/open/x", "/health", "/health/ready", "/"] {
                let get = try await h.gateway.execute(uri: uri, method: .get)
                let head = try await h.gateway.execute(uri: uri, method: .head)
                #expect(head.status == get.status, "\(uri)")
                #expect(head.body.readableBytes == 0, "\(uri)")
            }
            let proxied = try await h.gateway.execute(uri: "/me", method: .head, headers: H.bearer(try await H.userToken()))
            #expect(proxied.status == .ok, "the service answers HEAD on its GET route")
        }
    }

    @Test func metricsAreServedOnTheInternalListenerOnly() async throws {
        let (listening, announce) = AsyncStream.makeStream(of: Int.self)
        try await H.run(configure: {
            $0.metricsPort = 0
            $0.onMetricsListening = { port in announce.yield(port) }
        }) { h in
            _ = try await h.gateway.execute(uri: "/open/x", method: .get)
            expectError(try await h.gateway.execute(uri: "/metrics", method: .get), .notFound, "not_found")
            var ports = listening.makeAsyncIterator()
            let metricsPort = try #require(await ports.next())
            let scraped = try await TestSupport.withHTTPClient { http in
                let response = try await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(5))
                #expect(response.status == .ok)
                return String(buffer: try await response.body.collect(upTo: 1 << 20))
            }
            #expect(scraped.contains(#"route="GET /open/*""#))
        }
    }

    @Test func readinessAsksTheUpstreamsAtMostOnceASecond() async throws {
        let readyCalls = Counter()
        let router = Router()
        router.get("/ready") { _, _ in
            readyCalls.increment()
            return "ready"
        }
        let second = Mutex<Int64>(1_800_000_000)
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { counted in
            let routes = "service counted http://127.0.0.1:\(counted.port!)"
            try await H.run(routes: routes, configure: { $0.clock = { second.withLock { $0 } } }) { h in
                let before = readyCalls.value
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<50 { group.addTask { _ = try await h.gateway.execute(uri: "/health/ready", method: .get) } }
                    try await group.waitForAll()
                }
                #expect(readyCalls.value - before == 1, "fifty calls in one second, one check")
                second.withLock { $0 += 1 }
                _ = try await h.gateway.execute(uri: "/health/ready", method: .get)
                #expect(readyCalls.value - before == 2, "the next second checks again")
            }
        }
    }

    @Test func readinessNamesTheUpstreamsThatAreNotReady() async throws {
        try await H.run { h in
            let response = try await h.gateway.execute(uri: "/health/ready", method: .get)
            #expect(response.status == .serviceUnavailable)
            let report = try JSONDecoder().decode(ReadinessReport.self, from: Data(buffer: response.body))
            #expect(report.services["echo"] == "ready")
            #expect(report.services["down"] == "unreachable")
            #expect(report.notReady.contains("down"))
            #expect(try await h.gateway.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func metricsCountRequestsByRouteUpstreamAndStatus() async throws {
        try await H.run { h in
            let token = H.bearer(try await H.userToken())
            for _ in 0..<2 { _ = try await h.gateway.execute(uri: "/me", method: .get, headers: token) }
            _ = try await h.gateway.execute(uri: "/me", method: .get)
            let text = h.metrics.exposition()
            #expect(text.contains(#"http_requests_total{route="GET /me",method="GET",status="200",upstream="echo"} 2"#))
            #expect(text.contains(#"http_requests_total{route="GET /me",method="GET",status="401",upstream="echo"} 1"#))
        }
    }
}

@Suite struct GatewaySettingsTests {
    @Test func aRouteSecretThatIsNotSetStopsTheStartNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString).conf")
        try Data("service s http://127.0.0.1:1\nroute POST /cron s auth=bearer-secret(CRON_SECRET)\n".utf8).write(to: file)
        let environment = EnvironmentReader(["INTERNAL_SECRET": TestSupport.internalSecret])
        #expect(throws: ConfigurationError.self) { try GatewaySettings.load(configPath: file.path, environment: environment) }
        do {
            _ = try GatewaySettings.load(configPath: file.path, environment: environment)
        } catch let error as ConfigurationError {
            #expect(error.variable == "CRON_SECRET")
            #expect(error.description.contains(":2"))
        }
        let complete = EnvironmentReader(["INTERNAL_SECRET": TestSupport.internalSecret, "CRON_SECRET": "s3cret"])
        #expect(try GatewaySettings.load(configPath: file.path, environment: complete).secrets["CRON_SECRET"] == "s3cret")
    }
}
