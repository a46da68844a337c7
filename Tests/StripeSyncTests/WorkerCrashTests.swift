import Foundation
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import StripeSync

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// A worker process killed with SIGKILL mid-sync: its lease runs out, another worker takes the job, and every
    /// object ends up in the cache exactly once.
    @Test func aKilledWorkersJobIsFinishedByAnother() async throws {
        try await TestSupport.withSandbox { sandbox, stripe in
            let account = "acct_crash_" + UUID().uuidString.prefix(8)
            sandbox.connect.setData(.generate(customers: 1_500, seed: 7), for: account)
            // Slow answers keep the sync running when the kill comes.
            sandbox.faults.add(Fault(pathPrefix: "/v1/", delayMilliseconds: 40, times: nil))
            let connectionID = UUID()
            try await ConnectHarness.emptyTheQueue()
            try await TestSupport.withPostgres { client in
                try await client.query(
                    """
                    INSERT INTO sync.stripe_connections (id, user_id, stripe_account_id, access_token_ciphertext, token_key_id, sync_status)
                    VALUES (\(connectionID), 'crash-owner', \(account), 'sealed', 'k1', 'queued')
                    """,
                    logger: TestSupport.logger
                )
                try await client.query(
                    "INSERT INTO sync.sync_jobs (id, connection_id, kind) VALUES (\(UUID()), \(connectionID), 'full')",
                    logger: TestSupport.logger
                )
            }
            let port = TestSupport.freePort()
            var environment = TestSupport.stripeSyncProcessEnvironment(port: port, stripe: stripe.baseURL)
            environment["SYNC_JOB_LEASE_SECONDS"] = "2"
            let first = try await ServiceProcess(product: "stripe-sync", arguments: ["worker"], port: port, environment: environment)
            try await TestSupport.eventually("the sync to be under way") { try await Self.cached("customers_cache", account: account) > 0 }
            try await first.kill()
            #expect(try await Self.cached("charges_cache", account: account) < 1_500, "the kill came after the sync; the test proves nothing")

            let second = try await ServiceProcess(product: "stripe-sync", arguments: ["worker"], port: port, environment: environment)
            try await TestSupport.eventually("another worker to finish the job", timeout: .seconds(120)) {
                try await TestSupport.withPostgres { client in
                    for try await status in try await client.query(
                        "SELECT sync_status FROM sync.stripe_connections WHERE id = \(connectionID)",
                        logger: TestSupport.logger
                    ).decode(String.self) { return status == "synced" }
                    return false
                }
            }
            try await second.stop()
            for table in ["customers_cache", "subscriptions_cache", "invoices_cache", "charges_cache"] {
                #expect(try await Self.cached(table, account: account) == 1_500, "\(table)")
            }
            // The second worker went on from the first one's cursor: the first page of customers was asked for once.
            let firstPages = sandbox.faults.requests.filter { $0.path == "/v1/customers" && $0.query?.contains("starting_after") != true }
            #expect(firstPages.count == 1)
        }
    }
}
