import AsyncHTTPClient
import DevOpsAPI
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport

/// `make bench-keys`: what `api-key(SCOPE)` costs at the gateway. The same upstream is called through a route
/// with no auth and through an api-key route, with a warm verification cache (one key) and a cold one (a new key
/// for every request, so each is checked by devops-api).
@main
struct KeyBenchmark {
    static func main() async throws {
        try await run(requests: Int(CommandLine.arguments.dropFirst().first ?? "") ?? 5_000)
    }

    nonisolated static func run(requests: Int) async throws {
        // Few clients at once, so that latency is the gateway's work and not queueing on a small machine.
        let concurrency = 4
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let upstream = await buildServiceApplication(
            ServiceDescriptor(name: "bench-upstream", schema: "bench_upstream", defaultPort: 0, migrations: []),
            configuration: try TestSupport.serviceConfiguration()
        ) { router, _ in
            router.get("/**") { _, _ in "ok" }
        }
        let devops = try await DevOpsAPIService.buildApplication(try TestSupport.serviceConfiguration())
        try await upstream.test(.live) { upstreamClient in
            try await devops.test(.live) { devopsClient in
                let config = try GatewayConfig.parse(
                    """
                    listen 127.0.0.1:0
                    service upstream   \(upstreamClient.baseURL)
                    service devops-api \(devopsClient.baseURL)
                    route GET /open   upstream auth=none
                    route GET /keyed  upstream auth=api-key(sync:users)
                    """,
                    environment: [:]
                )
                var settings = GatewaySettings(config: config, internalSecret: TestSupport.internalSecret, supabaseJWTSecret: TestSupport.userSecret)
                settings.logLevel = .error
                settings.metricsPort = 0
                try await buildGateway(settings).test(.live) { gateway in
                    let admin = try await tokens.mint(Identity(subject: "bench-admin", role: .admin, scheme: "user"), issuer: "bench")
                    try await TestSupport.withHTTPClient { http in
                        func newKey() async throws -> String {
                            var request = HTTPClientRequest(url: devopsClient.baseURL + "/api/devops/generate-key")
                            request.method = .POST
                            request.headers.add(name: IdentityTokens.headerName, value: admin)
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.body = .bytes(ByteBuffer(string: #"{"name":"bench","permissions":["sync:users"]}"#))
                            let body = try await http.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 16)
                            return try JSONDecoder().decode([String: JSONValue].self, from: body)["key"]?.string ?? ""
                        }
                        let warmKey = try await newKey()
                        var fresh: [String] = []
                        for _ in 0..<min(requests, 2_000) { fresh.append(try await newKey()) }
                        let coldKeys = fresh

                        let open = try await measure("no auth", requests, concurrency, http) { _ in (gateway.baseURL + "/open", nil) }
                        let warm = try await measure("api-key, warm cache", requests, concurrency, http) { _ in (gateway.baseURL + "/keyed", warmKey)
                        }
                        let cold = try await measure("api-key, cold cache", coldKeys.count, concurrency, http) {
                            (gateway.baseURL + "/keyed", coldKeys[$0])
                        }
                        print(String(format: "p99 added by key verification: warm %.2f ms, cold %.2f ms", warm.p99 - open.p99, cold.p99 - open.p99))
                    }
                }
            }
        }
    }

    struct Result {
        var p50: Double
        var p99: Double
    }

    static func measure(
        _ label: String,
        _ count: Int,
        _ concurrency: Int,
        _ http: HTTPClient,
        _ target: @escaping @Sendable (Int) -> (String, String?)
    ) async throws -> Result {
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    for index in stride(from: worker, to: count, by: concurrency) {
                        let (url, key) = target(index)
                        var request = HTTPClientRequest(url: url)
                        if let key { request.headers.add(name: "x-api-key", value: key) }
                        let sent = ContinuousClock.now
                        let response = try await http.execute(request, timeout: .seconds(10))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        guard response.status == .ok else { throw BenchmarkFailure(reason: "a request was answered \(response.status)") }
                        latencies.append((ContinuousClock.now - sent).inSeconds * 1000)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }.sorted()
        }
        let elapsed = (ContinuousClock.now - start).inSeconds
        let result = Result(p50: latencies[latencies.count / 2], p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
        print(
            label.padding(toLength: 22, withPad: " ", startingAt: 0)
                + String(format: "%6d requests  %8.0f req/s  p50 %.2f ms  p99 %.2f ms", count, Double(count) / elapsed, result.p50, result.p99)
        )
        return result
    }
}
