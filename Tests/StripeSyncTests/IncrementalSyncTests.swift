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

/// A connected account whose first sync has finished.
struct SyncedAccount: Sendable {
    var token: String
    var connection: UUID
    var account: String
    var data: ConnectedAccountData
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Connects a small account and waits for its first (full) sync.
    static func connectedAccount(_ h: ConnectHarness, customers: Int = 30) async throws -> SyncedAccount {
        var data = ConnectedAccountData.generate(customers: customers, seed: 5)
        data.subscriptions[0].status = .active
        data.subscriptions[1].status = .active
        let (user, connection, account) = try await connectBuilt(data, named: "inc", h)
        return SyncedAccount(token: user.token, connection: connection.id, account: account, data: data)
    }

    static func doneJobs(_ connection: UUID, count: Int) async throws {
        try await TestSupport.eventually("\(count) finished syncs", timeout: .seconds(60)) {
            try await TestSupport.withPostgres { client in
                for try await done in try await client.query(
                    "SELECT count(*)::int FROM sync.sync_jobs WHERE connection_id = \(connection) AND status = 'done'",
                    logger: TestSupport.logger
                ).decode(Int.self) { return done == count }
                return false
            }
        }
    }

    /// Connects an account built to a recipe as a new user and waits for its first sync.
    static func connectBuilt(
        _ data: ConnectedAccountData,
        named name: String,
        _ h: ConnectHarness
    ) async throws -> (user: (id: String, token: String), connection: ConnectRoutes.Connection, account: String) {
        let account = "acct_\(name)_" + UUID().uuidString.prefix(8)
        h.sandbox.connect.addAccount(id: account, name: name, currency: "usd")
        h.sandbox.connect.setData(data, for: account)
        let user = try await ConnectHarness.user()
        #expect(try await h.callback(try await h.authorize(user.token, account: account)).status == .found)
        let connection = try #require(try await h.connections(user.token).first)
        try await doneJobs(connection.id, count: 1)
        return (user, connection, account)
    }

    static func syncAgain(_ h: ConnectHarness, token: String, connection: UUID) async throws {
        let response = try await h.gateway.execute(
            uri: "/api/stripe/connections/\(connection)/sync",
            method: .post,
            headers: [.authorization: "Bearer \(token)"]
        )
        #expect(String(buffer: response.body) == #"{"queued":1}"#)
        try await doneJobs(connection, count: 2)
    }

    @Test func laterSyncsReadOnlyWhatTheEventsSayChanged() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let synced = try await Self.connectedAccount(h)
            let token = synced.token
            let connection = synced.connection
            let account = synced.account
            var data = synced.data
            // An upgrade, a cancellation and a new customer, each with the event Stripe would send.
            let now = Int(Date().timeIntervalSince1970)
            let bigger = Price(id: "price_99900", currency: "usd", unitAmount: 99_900, recurring: Recurring(interval: .month))
            data.subscriptions[0].items = StripeList(data: [SubscriptionItem(id: "si_upgraded", price: bigger, quantity: 1)])
            data.subscriptions[1].status = .canceled
            data.subscriptions[1].canceledAt = now - 60
            data.subscriptions[1].endedAt = now - 60
            data.customers.append(Customer(id: "cus_newcomer", email: "new@example.com", created: now))
            h.sandbox.connect.setData(data, for: account)
            try h.sandbox.connect.record(event: "customer.subscription.updated", object: data.subscriptions[0], named: "subscription", for: account)
            try h.sandbox.connect.record(event: "customer.subscription.deleted", object: data.subscriptions[1], named: "subscription", for: account)
            try h.sandbox.connect.record(event: "customer.created", object: data.customers.last!, named: "customer", for: account)
            let seen = h.sandbox.faults.requests.count

            try await Self.syncAgain(h, token: token, connection: connection)
            let later = h.sandbox.faults.requests.dropFirst(seen).filter { $0.header("Stripe-Account") == account }
            #expect(later.contains { $0.path == "/v1/events" })
            #expect(
                !later.contains { $0.path == "/v1/customers" || $0.path == "/v1/invoices" || $0.path == "/v1/charges" },
                "an incremental sync lists nothing in full"
            )
            #expect(
                Set(later.map(\.path)).isSuperset(of: [
                    "/v1/subscriptions/\(data.subscriptions[0].id)", "/v1/subscriptions/\(data.subscriptions[1].id)",
                ])
            )
            #expect(try await Self.cached("customers_cache", account: account) == 31)

            let expected = data.subscriptions.filter { $0.status == .active }.flatMap(\.items.data).reduce(0) { $0 + ($1.price.unitAmount ?? 0) }
            let metrics = try await h.gateway.execute(
                uri: "/api/metrics?connectionId=\(connection)&days=1",
                method: .get,
                headers: [.authorization: "Bearer \(token)"]
            )
            let latest = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: metrics.body))["latest"]
            #expect(latest?["mrr"] == .number(Decimal(expected)))
        }
    }

    @Test func aMarkOlderThanStripesEventsFallsBackToAFullCopy() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let synced = try await Self.connectedAccount(h)
            try await Self.ageTheEventMark(of: synced.connection, days: 40)
            let seen = h.sandbox.faults.requests.count
            try await Self.syncAgain(h, token: synced.token, connection: synced.connection)
            let later = h.sandbox.faults.requests.dropFirst(seen).filter { $0.header("Stripe-Account") == synced.account }
            #expect(later.contains { $0.path == "/v1/customers" })
            #expect(later.contains { $0.path == "/v1/charges" })

            // Disconnecting deletes what was copied.
            let disconnected = try await h.gateway.execute(
                uri: "/api/stripe/connections/\(synced.connection)",
                method: .delete,
                headers: [.authorization: "Bearer \(synced.token)"]
            )
            #expect(disconnected.status == .noContent)
            for table in ["customers_cache", "subscriptions_cache", "invoices_cache", "charges_cache"] {
                #expect(try await Self.cached(table, account: synced.account) == 0, "\(table)")
            }
        }
    }

    static func ageTheEventMark(of connection: UUID, days: Int) async throws {
        try await TestSupport.withPostgres { client in
            try await client.query(
                "UPDATE sync.stripe_connections SET last_event_at = \(Int(Date().timeIntervalSince1970) - days * 86_400) WHERE id = \(connection)",
                logger: TestSupport.logger
            )
        }
    }
}
