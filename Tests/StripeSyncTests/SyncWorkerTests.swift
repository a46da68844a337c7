import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Sandbox
import ServiceKit
@testable import StripeSync
import TestSupport
import Testing

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
            h.sandbox.connect.setData(.generate(customers: 250, seed: 42), for: account)
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
        }
    }
}
