import Foundation
import HummingbirdTesting
import InsightsUsage
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import StripeSync

extension StripeSyncIntegrationTests.SyncWorkerTests {
    @Test func eachSyncReportsTheMonthsTransactionVolumeWithoutCountingTwice() async throws {
        let usageApp = await InsightsUsageService.buildApplication(
            try TestSupport.serviceConfiguration(),
            settings: UsageSettings(billingURL: "http://127.0.0.1:\(TestSupport.refusingPort)")
        )
        try await usageApp.test(.live) { usage in
            try await ConnectHarness.run(workers: 1, usageURL: usage.baseURL) { h async throws in
                let account = "acct_usage_" + UUID().uuidString.prefix(8)
                var data = ConnectedAccountData.generate(customers: 60, seed: 3)
                for index in 0..<40 { data.charges[index].created = Int(Date().timeIntervalSince1970) - index }
                h.sandbox.connect.setData(data, for: account)
                let user = try await ConnectHarness.user()
                #expect(try await h.callback(try await h.authorize(user.token, account: account)).status == .found)

                func volume() async throws -> Int64 {
                    try await TestSupport.withPostgres { client in
                        for try await sum in try await client.query(
                            "SELECT coalesce(sum(amount), 0)::bigint FROM usage.usage_events WHERE user_id = \(user.id) AND event_type = 'transaction_volume'",
                            logger: TestSupport.logger
                        ).decode(Int64.self) { return sum }
                        return 0
                    }
                }
                try await TestSupport.eventually("the month's volume at insights-usage") { try await volume() == 40 }

                let connection = try #require(try await h.connections(user.token).first)
                let again = try await h.gateway.execute(
                    uri: "/api/stripe/connections/\(connection.id)/sync",
                    method: .post,
                    headers: [.authorization: "Bearer \(user.token)"]
                )
                #expect(String(buffer: again.body) == #"{"queued":1}"#)
                // Timestamps in the API are whole seconds, and both syncs may finish within one; the jobs tell them apart.
                try await TestSupport.eventually("the second sync") {
                    try await TestSupport.withPostgres { client in
                        for try await done in try await client.query(
                            "SELECT count(*)::int FROM sync.sync_jobs WHERE connection_id = \(connection.id) AND status = 'done'",
                            logger: TestSupport.logger
                        ).decode(Int.self) { return done == 2 }
                        return false
                    }
                }
                #expect(try await volume() == 40)
            }
        }
    }
}
