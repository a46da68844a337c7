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

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Through the real gateway: a subscription changed in the sandbox sends its signed Connect webhook, the cache and
    /// today's metrics follow, and `metrics_update` arrives on the owner's stream, not on another user's. A stream that
    /// reconnects with `Last-Event-ID` gets the update it missed while away.
    @Test func aChangeInStripeReachesTheOwnersStreamAndOnlyTheirs() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            h.sandbox.connect.setWebhook(url: h.gateway.baseURL + "/api/webhooks/stripe-connect", secret: TestSupport.stripeConnectWebhookSecret)
            let synced = try await Self.connectedAccount(h)
            let stranger = try await ConnectHarness.user()
            try await TestSupport.withHTTPClient { http in
                let url = h.gateway.baseURL + "/api/stream"
                let owners = try await StreamReader.open(url, token: synced.token, http: http)
                let others = try await StreamReader.open(url, token: stranger.token, http: http)
                defer {
                    owners.close()
                    others.close()
                }
                #expect(owners.status == 200 && others.status == 200)
                let subscription = synced.data.subscriptions[0]
                let quantity = subscription.items.data[0].quantity ?? 1
                let unit = try #require(subscription.items.data[0].price.unitAmount)
                #expect(
                    try await h.sandbox.connect.updateSubscription(subscription.id, of: synced.account) { $0.items.data[0].quantity = quantity + 1 }
                        == 200
                )

                let connection = synced.connection.uuidString.lowercased()
                let received = try await owners.read { $0.event == "metrics_update" && $0.data.lowercased().contains(connection) }
                let update = try #require(received.last)
                let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(update.data.utf8))
                let mrr = try #require(try await Self.latestMRR(h, token: synced.token, connection: synced.connection))
                #expect(metrics["mrr"] == mrr, "the update carries today's MRR as /api/metrics answers it")
                if case .number(let value) = mrr { #expect(value >= Decimal(unit)) }

                // A marker for the stranger, published after the update: everything before it is what they were sent.
                try await TestSupport.withPostgres { client in
                    try await client.withConnection { connection in
                        try await StreamEvents.publish("marker", to: stranger.id, payload: ["n": 1], on: connection, logger: TestSupport.logger)
                    }
                }
                let strangers = try await others.read { $0.event == "marker" }
                #expect(!strangers.contains { $0.event == "metrics_update" || $0.event == "sync_status" })

                // Away, then back with the last id seen: the update made meanwhile comes first.
                let lastSeen = try #require(update.id)
                #expect(
                    try await h.sandbox.connect.updateSubscription(subscription.id, of: synced.account) { $0.items.data[0].quantity = quantity + 2 }
                        == 200
                )
                try await TestSupport.eventually("the second change in today's metrics", timeout: .seconds(10)) {
                    guard case .number(let value)? = try await Self.latestMRR(h, token: synced.token, connection: synced.connection),
                        case .number(let before) = mrr
                    else { return false }
                    return value == before + Decimal(unit)
                }
                let back = try await StreamReader.open(url, token: synced.token, lastEventID: lastSeen, http: http)
                defer { back.close() }
                let missed = try await back.read { $0.event == "metrics_update" }
                #expect(missed.last.map { $0.id ?? 0 > lastSeen } == true)
            }
        }
    }

    /// No stream without signing in, and no more than the per-user cap at once.
    @Test func aStreamNeedsAUserAndHonoursThePerUserCap() async throws {
        try await ConnectHarness.run(workers: 0) { h async throws in
            let anonymous = try await h.gateway.execute(uri: "/api/stream", method: .get)
            #expect(anonymous.status == .unauthorized)
            let user = try await ConnectHarness.user()
            try await TestSupport.withHTTPClient { http in
                var open: [StreamReader] = []
                for _ in 0..<StreamHub.Limits().perUser {
                    open.append(try await StreamReader.open(h.gateway.baseURL + "/api/stream", token: user.token, http: http))
                }
                #expect(open.allSatisfy { $0.status == 200 })
                let one = try await StreamReader.open(h.gateway.baseURL + "/api/stream", token: user.token, http: http)
                #expect(one.status == 429)
                for stream in open + [one] { stream.close() }
            }
        }
    }

    /// A stream opened with a token that then runs out is told so and closed; nothing is sent after its expiry.
    @Test func aStreamWhoseTokenExpiresIsClosed() async throws {
        try await ConnectHarness.run(workers: 0) { h async throws in
            let token = try await TestSupport.userToken("stream-expiry-" + UUID().uuidString, lifetime: 2)
            try await TestSupport.withHTTPClient { http in
                let stream = try await StreamReader.open(h.gateway.baseURL + "/api/stream", token: token, http: http)
                defer { stream.close() }
                #expect(stream.status == 200)
                let received = try await stream.read(until: { $0.event == "expired" }, timeout: .seconds(30))
                #expect(received.map(\.event) == ["expired"])
                #expect(try await stream.read(until: { _ in false }, timeout: .seconds(5)).isEmpty, "the stream ended")
            }
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Two stripe-sync processes behind their own gateways: the one serving a client's stream is killed with SIGKILL,
    /// two events are published while the client is away, and reconnecting to the other with `Last-Event-ID` gets both.
    @Test func aClientOfAKilledReplicaMissesNothingOnAnother() async throws {
        try await TestSupport.withSandbox { _, stripe in
            func environment(port: Int) -> [String: String] {
                var environment = TestSupport.stripeSyncProcessEnvironment(port: port, stripe: stripe.baseURL)
                environment["SYNC_WORKERS"] = "0"
                return environment
            }
            let (portA, portB) = (TestSupport.freePort(), TestSupport.freePort())
            let a = try await ServiceProcess(product: "stripe-sync", arguments: ["serve"], port: portA, environment: environment(port: portA))
            let b = try await ServiceProcess(product: "stripe-sync", arguments: ["serve"], port: portB, environment: environment(port: portB))
            let user = "replicas-" + UUID().uuidString.lowercased()
            let token = try await TestSupport.userToken(user)
            @Sendable func publish(_ n: Int) async throws -> Int64? {
                try await TestSupport.withPostgres { client in
                    try await client.withConnection { connection in
                        try await StreamEvents.publish("usage_update", to: user, payload: ["n": n], on: connection, logger: TestSupport.logger)
                    }
                }
            }
            try await TestSupport.withGateway(services: ["stripe-sync": a.baseURL]) { gatewayA in
                try await TestSupport.withGateway(services: ["stripe-sync": b.baseURL]) { gatewayB in
                    try await TestSupport.withHTTPClient { http in
                        let first = try await StreamReader.open(gatewayA.baseURL + "/api/stream", token: token, http: http)
                        defer { first.close() }
                        let one = try #require(try await publish(1))
                        #expect(try await first.read { $0.event == "usage_update" }.last?.id == one)
                        try await a.kill()
                        let two = try #require(try await publish(2))
                        let three = try #require(try await publish(3))
                        let again = try await StreamReader.open(gatewayB.baseURL + "/api/stream", token: token, lastEventID: one, http: http)
                        defer { again.close() }
                        let missed = try await again.read { $0.id == three }
                        #expect(missed.map(\.id) == [two, three])
                        let numbers = try missed.map { try JSONDecoder().decode([String: Int].self, from: Data($0.data.utf8))["n"] }
                        #expect(numbers == [2, 3])
                    }
                }
            }
            try await b.stop()
        }
    }
}
