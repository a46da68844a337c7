import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Sandbox
import ServiceKit
import StripeKit
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

        /// 5,000 customers while a tenth of the sandbox's answers are 500 or 429: the retries fill every gap.
        static func cachedItems(subscription: String, account: String) async throws -> Int {
            try await TestSupport.withPostgres { client in
                for try await count in try await client.query(
                    "SELECT jsonb_array_length(items)::int FROM sync.subscriptions_cache WHERE account_id = \(account) AND id = \(subscription)",
                    logger: TestSupport.logger
                ).decode(Int.self) { return count }
                return 0
            }
        }

        static func cachedLines(invoice: String, account: String) async throws -> Int {
            try await TestSupport.withPostgres { client in
                for try await count in try await client.query(
                    "SELECT jsonb_array_length(lines)::int FROM sync.invoices_cache WHERE account_id = \(account) AND id = \(invoice)",
                    logger: TestSupport.logger
                ).decode(Int.self) { return count }
                return 0
            }
        }

        @Test func theFirstSyncCopiesEveryObjectOnceThroughFailures() async throws {
            try await ConnectHarness.run(workers: 1) { h async throws in
                let account = "acct_" + UUID().uuidString.prefix(8)
                h.sandbox.connect.addAccount(id: account, name: "Synced Co", currency: "usd")
                var data = ConnectedAccountData.generate(customers: 5_000, seed: 42)
                // One subscription with more items than Stripe embeds: the rest come from /v1/subscription_items.
                let price = data.subscriptions[0].items.data[0].price
                data.subscriptions[0].status = .active
                data.subscriptions[0].items = StripeList(data: (0..<25).map { SubscriptionItem(id: "si_extra_\($0)", price: price, quantity: 1) })
                // And one invoice with more lines than Stripe embeds.
                data.invoices[0].lines = StripeList(data: (0..<25).map { InvoiceLine(id: "il_extra_\($0)", amount: 100, currency: "usd") })
                h.sandbox.connect.setData(data, for: account)
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/customers", status: 500, times: nil, everyNth: 10))
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/subscriptions", status: 500, times: nil, everyNth: 10))
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/subscription_items", status: 500, times: nil, everyNth: 10))
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/invoices", status: 429, retryAfter: 0, times: nil, everyNth: 10))
                h.sandbox.faults.add(Fault(pathPrefix: "/v1/charges", status: 429, retryAfter: 0, times: nil, everyNth: 10))
                let user = try await ConnectHarness.user()
                #expect(try await h.callback(try await h.authorize(user.token, account: account)).status == .found)
                try await TestSupport.eventually("the first sync to finish", timeout: .seconds(180)) {
                    try await h.connections(user.token).first?.syncStatus == "synced"
                }
                for table in ["customers_cache", "subscriptions_cache", "invoices_cache", "charges_cache"] {
                    #expect(try await Self.cached(table, account: account) == 5_000, "\(table)")
                }
                #expect(try await Self.cachedItems(subscription: data.subscriptions[0].id, account: account) == 25)
                #expect(try await Self.cachedLines(invoice: data.invoices[0].id, account: account) == 25)
                #expect(h.sandbox.faults.requests.contains { $0.faulted })
                #expect(try await h.connections(user.token).first?.lastSyncedAt != nil)

                // The metrics, against the same numbers worked out here from the sandbox's records.
                let connection = try #require(try await h.connections(user.token).first)
                let expectedMRR = data.subscriptions.filter { $0.status == .active }.flatMap(\.items.data).reduce(0) {
                    $0 + ($1.price.unitAmount ?? 0)
                }
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
