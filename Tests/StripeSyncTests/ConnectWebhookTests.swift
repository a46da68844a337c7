import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import StripeSync

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Sends a connected account's event to the Connect endpoint through the gateway, signed; returns the outcome.
    static func send(_ event: AccountEvent, _ h: ConnectHarness) async throws -> String? {
        let payload = try JSONEncoder().encode(event)
        let response = try await h.gateway.execute(
            uri: "/api/webhooks/stripe-connect",
            method: .post,
            headers: [
                HTTPField.Name("Stripe-Signature")!: StripeWebhookSignature.header(
                    for: payload,
                    secret: TestSupport.stripeConnectWebhookSecret,
                    timestamp: Date()
                ),
                .contentType: "application/json",
            ],
            body: ByteBuffer(data: payload)
        )
        #expect(response.status == .ok)
        return try JSONDecoder().decode([String: JSONValue].self, from: Data(buffer: response.body))["outcome"]?.string
    }

    static func latestMRR(_ h: ConnectHarness, token: String, connection: UUID) async throws -> JSONValue? {
        let response = try await h.gateway.execute(
            uri: "/api/metrics?connectionId=\(connection)&days=1",
            method: .get,
            headers: [.authorization: "Bearer \(token)"]
        )
        return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))["latest"]?["mrr"]
    }

    static func cachedStatus(_ subscription: String, account: String) async throws -> String? {
        try await TestSupport.withPostgres { client in
            for try await status in try await client.query(
                "SELECT status FROM sync.subscriptions_cache WHERE account_id = \(account) AND id = \(subscription)",
                logger: TestSupport.logger
            ).decode(String.self) { return status }
            return nil
        }
    }

    /// A subscription changed in Stripe: its signed Connect event reaches stripe-sync through the gateway, the cache
    /// takes the subscription as Stripe now has it, and today's MRR follows within seconds, with no sync run. Only the
    /// days the change reaches are recomputed: yesterday's snapshot is the one the first sync wrote.
    @Test func aChangedSubscriptionReachesTheCacheAndTodaysMetricsBeforeAnySync() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            h.sandbox.connect.setWebhook(url: h.gateway.baseURL + "/api/webhooks/stripe-connect", secret: TestSupport.stripeConnectWebhookSecret)
            let synced = try await Self.connectedAccount(h)
            let before = try #require(try await Self.latestMRR(h, token: synced.token, connection: synced.connection))
            let yesterday = try await Self.computedAt(connection: synced.connection, daysAgo: 1)
            let subscription = synced.data.subscriptions[0]
            let unit = try #require(subscription.items.data[0].price.unitAmount)
            let quantity = subscription.items.data[0].quantity ?? 1

            let status = try await h.sandbox.connect.updateSubscription(subscription.id, of: synced.account) {
                $0.items.data[0].quantity = quantity + 2
            }
            #expect(status == 200)
            guard case .number(let mrrBefore) = before else { Issue.record("no MRR"); return }
            try await TestSupport.eventually("today's MRR to include the two more seats", timeout: .seconds(10)) {
                try await Self.latestMRR(h, token: synced.token, connection: synced.connection) == .number(mrrBefore + Decimal(2 * unit))
            }
            #expect(try await Self.cachedItems(subscription: subscription.id, account: synced.account) == 1)
            #expect(try await Self.computedAt(connection: synced.connection, daysAgo: 1) == yesterday, "days the change does not reach are kept")
            try await Self.doneJobs(synced.connection, count: 1)
        }
    }

    static func computedAt(connection: UUID, daysAgo: Int) async throws -> Date? {
        try await TestSupport.withPostgres { client in
            for try await at in try await client.query(
                """
                SELECT computed_at FROM sync.metrics_snapshots
                WHERE connection_id = \(connection) AND day = (now() AT TIME ZONE 'UTC')::date - \(daysAgo)::int
                """,
                logger: TestSupport.logger
            ).decode(Date.self) { return at }
            return nil
        }
    }

    /// Each event once; an older event arriving after a newer one changes nothing (the newer one's read of the
    /// subscription already holds it); events of accounts nobody connected, and of types nobody reads, are answered
    /// 200 and dropped; the deauthorisation event disconnects the account.
    @Test func duplicatesLateEventsAndStrangersLeaveTheCacheRight() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let synced = try await Self.connectedAccount(h)
            let connect = h.sandbox.connect
            var data = synced.data
            let id = data.subscriptions[0].id
            let now = Date()
            // Stripe's state: past due a minute ago, active again now. The events arrive newest first.
            var pastDue = data.subscriptions[0]
            pastDue.status = .pastDue
            let older = try connect.record(
                event: "customer.subscription.updated",
                object: pastDue,
                named: "subscription",
                previous: ["status": "active"],
                at: now.addingTimeInterval(-60),
                for: synced.account
            )
            data.subscriptions[0].status = .active
            connect.setData(data, for: synced.account)
            let newer = try connect.record(
                event: "customer.subscription.updated",
                object: data.subscriptions[0],
                named: "subscription",
                previous: ["status": "past_due"],
                at: now,
                for: synced.account
            )
            #expect(try await Self.send(newer, h) == "applied")
            #expect(try await Self.send(newer, h) == "duplicate")
            #expect(try await Self.send(older, h) == "stale")
            #expect(try await Self.cachedStatus(id, account: synced.account) == "active")

            let stranger = try connect.record(event: "customer.subscription.updated", object: pastDue, named: "subscription", for: "acct_nobody")
            #expect(try await Self.send(stranger, h) == "ignored:unknown_account")
            let unknownType = try connect.record(
                event: "issuing_card.created",
                object: ["id": "ic_1"],
                named: "issuing.card",
                for: synced.account
            )
            #expect(try await Self.send(unknownType, h) == "ignored:unhandled_type")

            let goodbye = try connect.record(
                event: "account.application.deauthorized",
                object: ["id": "ca_test_platform", "name": "Revmesh"],
                named: "application",
                for: synced.account
            )
            #expect(try await Self.send(goodbye, h) == "disconnected")
            #expect(try await h.connections(synced.token).isEmpty)
            #expect(try await Self.cached("subscriptions_cache", account: synced.account) == 0)
            #expect(try await Self.send(newer, h) == "ignored:unknown_account", "a disconnected account's events are dropped")
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// 300 changes to one account in a burst, 20 at a time: every one reaches the cache, today's MRR ends at the last
    /// one's, and the metrics are recomputed at most once per settling time of the refresher while the burst lasts,
    /// not once per event.
    @Test func aBurstOfEventsIsRefreshedAFewTimesNotOncePerEvent() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            h.sandbox.connect.setWebhook(url: h.gateway.baseURL + "/api/webhooks/stripe-connect", secret: TestSupport.stripeConnectWebhookSecret)
            let synced = try await Self.connectedAccount(h)
            guard case .number(let before)? = try await Self.latestMRR(h, token: synced.token, connection: synced.connection) else {
                Issue.record("no MRR")
                return
            }
            let subscription = synced.data.subscriptions[0]
            let unit = try #require(subscription.items.data[0].price.unitAmount)
            let burst = 300
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<burst {
                    if index >= 20 { #expect(try await group.next() == 200) }
                    group.addTask {
                        try await h.sandbox.connect.updateSubscription(subscription.id, of: synced.account) {
                            $0.items.data[0].quantity = ($0.items.data[0].quantity ?? 1) + 1
                        }
                    }
                }
                for try await status in group { #expect(status == 200) }
            }
            try await TestSupport.eventually("today's MRR to hold all \(burst) seats more", timeout: .seconds(20)) {
                try await Self.latestMRR(h, token: synced.token, connection: synced.connection) == .number(before + Decimal(burst * unit))
            }
            let lasted = ContinuousClock.now - started
            let count =
                try await TestSupport.withPostgres { client in
                    try await client.scalar(
                        "SELECT metrics_refreshes FROM sync.stripe_connections WHERE id = \(synced.connection)",
                        as: Int.self,
                        logger: TestSupport.logger
                    )
                } ?? 0
            let settlings = Int(lasted / MetricsRefresher.defaultSettle) + 2
            #expect(count >= 1 && count < burst && count <= settlings, "\(count) refreshes for \(burst) events over \(lasted)")
        }
    }
}
