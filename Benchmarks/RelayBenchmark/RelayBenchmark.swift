import AsyncHTTPClient
import CRMRelay
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport

/// `make bench-relay`: accepted and delivered events per second, crm-relay against the sandbox's CRM.
@main
struct RelayBenchmark {
    static func main() async throws {
        let events = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000
        let clients = 64
        try await TestSupport.withPostgres { client in
            try await CRMRelayService.descriptor.migrationRunner.run(on: client, logger: TestSupport.logger)
            try await client.query("TRUNCATE crm.delivery_attempts, crm.outbox", logger: TestSupport.logger)
        }
        try await TestSupport.withSandbox { sandbox, crm in
            var settings = RelaySettings(webhookURL: crm.baseURL + "/crm/webhooks", apiKey: sandbox.crm.apiKey)
            // BENCH_RELAY_DELIVERY=0 measures acceptance alone, with no delivery competing for the machine.
            let delivering = ProcessInfo.processInfo.environment["BENCH_RELAY_DELIVERY"] != "0"
            settings.concurrency = delivering ? 32 : 0
            settings.pollInterval = .milliseconds(5)
            let app = await CRMRelayService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
            try await app.test(.live) { relay in
                let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
                let token = try await tokens.mint(.service("benchmark"), issuer: "benchmark")
                let body = ByteBuffer(string: RelayFixtures.registration)
                let start = ContinuousClock.now
                try await TestSupport.withHTTPClient { http in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<clients {
                            group.addTask {
                                for _ in stride(from: worker, to: events, by: clients) {
                                    var request = HTTPClientRequest(url: relay.baseURL + "/api/crm/events/customer-registration")
                                    request.method = .POST
                                    request.headers.add(name: "Content-Type", value: "application/json")
                                    request.headers.add(name: IdentityTokens.headerName, value: token)
                                    request.body = .bytes(body)
                                    let response = try await http.execute(request, timeout: .seconds(30))
                                    _ = try await response.body.collect(upTo: 1 << 16)
                                    guard response.status == .accepted else {
                                        throw BenchmarkFailure(reason: "a request was answered \(response.status)")
                                    }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                let accepted = ContinuousClock.now - start
                print("events:             \(events) (\(clients) concurrent clients)")
                print("accepted per second: \(Int(Double(events) / accepted.inSeconds))  (\(String(format: "%.2f", accepted.inSeconds)) s)")
                guard delivering else { return }
                while sandbox.crm.receipts.count < events { try await Task.sleep(for: .milliseconds(10)) }
                let delivered = ContinuousClock.now - start
                print(
                    "delivered per second: \(Int(Double(events) / delivered.inSeconds))  (\(String(format: "%.2f", delivered.inSeconds)) s, from first accept to last delivery)"
                )
            }
        }
    }
}

enum RelayFixtures {
    static let registration = """
        {"customer": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "websiteUserId": "web-42",
          "registrationDate": "2026-11-20T10:15:00Z", "source": "website", "language": "en"}, "metadata": {"benchmark": true}}
        """
}
