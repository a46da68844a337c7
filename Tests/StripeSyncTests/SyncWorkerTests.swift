import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import StripeSync

extension StripeSyncIntegrationTests {
    @Suite struct SyncWorkerTests {
        static func cached(_ table: String, account: String) async throws -> Int {
            try await TestSupport.withPostgres { client in
                for try await count in try await client.query(
                    "SELECT count(*)::int FROM sync.\(unescaped: table) WHERE account_id = \(account)",
                    logger: TestSupport.logger
                ).decode(Int.self) { return count }
                return 0
            }
        }

        @Test func theFirstSyncCopiesEveryObjectOnceThroughFailures() async throws {
            try await ConnectHarness.run(workers: 1) { h async throws in
                let account = "acct_" + UUID().uuidString.prefix(8)
                h.sandbox.connect.addAccount(id: account, name: "Synced Co", currency: "usd")
                let data = ConnectedAccountData.generate(customers: 250, seed: 42)
                h.sandbox.connect.setData(data, for: account)
                // Every second customers request answers 500 and every third invoices request 429: the retries fill the gaps.
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/customers", status: 500, times: nil, everyNth: 2))
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/invoices", status: 429, retryAfter: 0, times: nil, everyNth: 3))
                let user = try await ConnectHarness.user()
                #expect(try await h.callback(try await h.authorize(user.token, account: account)).status == .found)
                try await TestSupport.eventually("the first sync to finish", timeout: .seconds(60)) {
                    try await h.connections(user.token).first?.syncStatus == "synced"
                }
                for table in ["customers_cache", "subscriptions_cache", "invoices_cache", "charges_cache"] {
                    #expect(try await Self.cached(table, account: account) == 250, "\(table)")
                }
                #expect(h.sandbox.faults.requests.contains { $0.faulted })
                #expect(try await h.connections(user.token).first?.lastSyncedAt != nil)

                // The metrics, against the same numbers worked out here from the sandbox's records.
                let connection = try #require(try await h.connections(user.token).first)
                let expectedMRR = data.subscriptions.filter { $0.status == .active }.reduce(0) { $0 + ($1.items.data.first?.price.unitAmount ?? 0) }
                let response = try await h.gateway.execute(
                    uri: "/api/metrics?connectionId=\(connection.id)&days=30",
                    method: .get,
                    headers: [.authorization: "Bearer \(user.token)"]
                )
                #expect(response.status == .ok)
                let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
                #expect(metrics["latest"]?["mrr"] == .number(Decimal(expectedMRR)))
                #expect(metrics["latest"]?["total_customers"] == .number(Decimal(data.subscriptions.filter { $0.status == .active }.count)))
                #expect(metrics["trend"].map { if case .array(let days) = $0 { days.count } else { 0 } } == 30)

                let stranger = try await ConnectHarness.user()
                let hidden = try await h.gateway.execute(
                    uri: "/api/metrics?connectionId=\(connection.id)",
                    method: .get,
                    headers: [.authorization: "Bearer \(stranger.token)"]
                )
                #expect(hidden.status == .notFound)
            }
        }
    }
}
