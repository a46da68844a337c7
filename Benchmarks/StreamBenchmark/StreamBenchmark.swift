import AsyncHTTPClient
import Foundation
import Sandbox
import ServiceKit
import StripeSync
import TestSupport

/// `make bench-stream`: CLIENTS live streams through a real gateway process to a real stripe-sync process, spread
/// over ACCOUNTS users with one connected account each. Prints what an idle stream costs each process in memory,
/// then, for ROUNDS rounds, changes one subscription in every account in the sandbox (which sends its signed Connect
/// webhook) and measures how long each of the owner's streams takes to receive the `metrics_update` that follows.
@main
struct StreamBenchmark {
    struct Owner: Sendable {
        var user: String
        var token: String
        var account: String
        var connection: UUID
        var subscription: String
    }

    /// When a change was made in an account, or when one of its owner's streams received the update it caused.
    enum Moment: Sendable {
        case sent(String, ContinuousClock.Instant)
        case received(String, ContinuousClock.Instant)
    }

    static func main() async throws {
        let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let clients = sizes.count > 0 ? sizes[0] : 1_000
        let accounts = sizes.count > 1 ? sizes[1] : 20
        let rounds = sizes.count > 2 ? sizes[2] : 5
        let perUser = (clients + accounts - 1) / accounts
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        print("streams:  \(clients) clients, \(perUser) for each of \(accounts) users, through the gateway; \(rounds) rounds of changes")

        try await TestSupport.withSandbox { sandbox, stripe in
            try await TestSupport.withPostgres { client in
                try await StripeSyncService.descriptor.migrate(on: client, logger: TestSupport.logger)
            }
            let syncPort = TestSupport.freePort()
            let service = try await ServiceProcess(
                product: "stripe-sync",
                port: syncPort,
                environment: TestSupport.stripeSyncProcessEnvironment(port: syncPort, stripe: stripe.baseURL).merging([
                    "SYNC_WORKERS": "1", "STRIPE_SYNC_RATE": "0", "STREAM_MAX_PER_USER": String(perUser),
                    "INSIGHTS_USAGE_URL": "http://127.0.0.1:\(TestSupport.refusingPort)",
                ]) { $1 },
                binaries: binaries
            )
            let gatewayPort = TestSupport.freePort()
            let gateway = try await ServiceProcess(
                product: "gateway",
                arguments: ["serve", "--config", TestSupport.repositoryRoot.appendingPathComponent("gateway.conf").path],
                port: gatewayPort,
                environment: TestSupport.gatewayEnvironment(services: ["stripe-sync": service.baseURL]).merging([
                    "GATEWAY_PORT": String(gatewayPort), "LOG_LEVEL": "error",
                ]) { $1 },
                binaries: binaries
            )
            sandbox.connect.setWebhook(url: gateway.baseURL + "/api/webhooks/stripe-connect", secret: TestSupport.stripeConnectWebhookSecret)
            let owners = try await connectAccounts(accounts, sandbox: sandbox)

            var pool = HTTPClient.Configuration.internalCalls
            pool.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients + 16)
            try await TestSupport.withHTTPClient(configuration: pool) { http in
                var mrr: [UUID: Decimal] = [:]
                for owner in owners { mrr[owner.connection] = try await latestMRR(owner, gateway: gateway.baseURL, http: http) }
                let before = (gateway: gateway.memoryKilobytes("VmRSS"), service: service.memoryKilobytes("VmRSS"))
                var streams: [(owner: Owner, reader: StreamReader)] = []
                for owner in owners {
                    for _ in 0..<perUser where streams.count < clients {
                        let reader = try await StreamReader.open(gateway.baseURL + "/api/stream", token: owner.token, http: http)
                        guard reader.status == 200 else { throw BenchmarkFailure(reason: "a stream was refused with \(reader.status)") }
                        streams.append((owner, reader))
                    }
                }
                let after = (gateway: gateway.memoryKilobytes("VmRSS"), service: service.memoryKilobytes("VmRSS"))
                let perStream = { (grown: Int) in Double(grown) * 1024 / Double(streams.count) / 1000 }
                print(
                    String(
                        format: "memory:   per idle stream %.1f KB in the gateway, %.1f KB in stripe-sync (resident %d → %d MB and %d → %d MB)",
                        perStream(after.gateway - before.gateway),
                        perStream(after.service - before.service),
                        before.gateway / 1024,
                        after.gateway / 1024,
                        before.service / 1024,
                        after.service / 1024
                    )
                )

                var latencies: [Double] = []
                for round in 1...rounds {
                    let moments = try await withThrowingTaskGroup(of: Moment.self) { group in
                        for (owner, reader) in streams {
                            let previous = mrr[owner.connection]!
                            group.addTask {
                                _ = try await reader.read(
                                    until: { event in
                                        guard event.event == "metrics_update", case .number(let value)? = Self.json(event.data)["mrr"] else {
                                            return false
                                        }
                                        return value > previous
                                    },
                                    timeout: .seconds(30)
                                )
                                return .received(owner.account, .now)
                            }
                        }
                        for owner in owners {
                            group.addTask {
                                let sent = ContinuousClock.now
                                let status = try await sandbox.connect.updateSubscription(owner.subscription, of: owner.account) {
                                    $0.items.data[0].quantity = ($0.items.data[0].quantity ?? 1) + 1
                                }
                                guard status == 200 else { throw BenchmarkFailure(reason: "the webhook was answered \(status)") }
                                return .sent(owner.account, sent)
                            }
                        }
                        return try await group.reduce(into: [Moment]()) { $0.append($1) }
                    }
                    var sent: [String: ContinuousClock.Instant] = [:]
                    for case .sent(let account, let moment) in moments { sent[account] = moment }
                    let measured = moments.compactMap { moment -> Double? in
                        guard case .received(let account, let arrived) = moment, let change = sent[account] else { return nil }
                        return (arrived - change).inSeconds * 1000
                    }
                    latencies += measured
                    for owner in owners { mrr[owner.connection] = try await latestMRR(owner, gateway: gateway.baseURL, http: http) }
                    let sorted = measured.sorted()
                    print(
                        String(
                            format: "round %d:  %d updates, p50 %.0f ms, p99 %.0f ms",
                            round,
                            sorted.count,
                            percentile(sorted, 50),
                            percentile(sorted, 99)
                        )
                    )
                }
                let sorted = latencies.sorted()
                print(
                    String(
                        format: "latency:  webhook sent → metrics_update received, %d updates: p50 %.0f ms, p99 %.0f ms, max %.0f ms",
                        sorted.count,
                        percentile(sorted, 50),
                        percentile(sorted, 99),
                        sorted.last ?? 0
                    )
                )
                for (_, reader) in streams { reader.close() }
            }
            try await gateway.stop()
            try await service.stop()
        }
    }

    /// One user per account, its connection made and synced as a first sync leaves it (OAuth itself is not measured).
    static func connectAccounts(_ count: Int, sandbox: Sandbox) async throws -> [Owner] {
        var owners: [Owner] = []
        for index in 0..<count {
            let account = "acct_stream_\(index)_" + UUID().uuidString.prefix(6).lowercased()
            var data = ConnectedAccountData.generate(customers: 40, seed: UInt64(index + 1))
            data.subscriptions[0].status = .active
            sandbox.connect.addAccount(id: account, name: "Stream bench \(index)", currency: "usd")
            sandbox.connect.setData(data, for: account)
            let user = "stream-bench-\(index)-" + UUID().uuidString.prefix(6).lowercased()
            owners.append(
                Owner(
                    user: user,
                    token: try await TestSupport.userToken(user, lifetime: 24 * 3_600),
                    account: account,
                    connection: UUID(),
                    subscription: data.subscriptions[0].id
                )
            )
        }
        try await TestSupport.withPostgres { [owners] client in
            for owner in owners {
                try await client.query(
                    """
                    INSERT INTO sync.stripe_connections (id, user_id, stripe_account_id, access_token_ciphertext, token_key_id, sync_status)
                    VALUES (\(owner.connection), \(owner.user), \(owner.account), 'sealed', 'k1', 'queued')
                    """,
                    logger: TestSupport.logger
                )
                try await client.query(
                    "INSERT INTO sync.sync_jobs (id, connection_id, kind) VALUES (\(UUID()), \(owner.connection), 'full')",
                    logger: TestSupport.logger
                )
            }
            try await TestSupport.eventually("every first sync", timeout: .seconds(600)) {
                for try await unsynced in try await client.query(
                    "SELECT count(*) FROM sync.stripe_connections WHERE id = ANY(\(owners.map(\.connection))) AND sync_status <> 'synced'",
                    logger: TestSupport.logger
                ).decode(Int.self) { return unsynced == 0 }
                return false
            }
        }
        return owners
    }

    static func latestMRR(_ owner: Owner, gateway: String, http: HTTPClient) async throws -> Decimal {
        var request = HTTPClientRequest(url: gateway + "/api/metrics?connectionId=\(owner.connection)&days=1")
        request.headers.add(name: "Authorization", value: "Bearer \(owner.token)")
        let body = try await http.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
        guard case .number(let mrr)? = json(String(buffer: body))["latest"]?["mrr"] else {
            throw BenchmarkFailure(reason: "no MRR for \(owner.account): \(String(buffer: body))")
        }
        return mrr
    }

    static func json(_ text: String) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null
    }

    static func percentile(_ sorted: [Double], _ p: Int) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * p / 100)]
    }
}
