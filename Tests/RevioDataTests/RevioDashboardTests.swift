import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import RevioData

/// revio-data behind the real gateway.conf, reading the sandbox's Revio (220 customers). Serialized: the tests
/// share the one cache row.
@Suite(.serialized) struct RevioDashboardTests {
    struct Harness: Sendable {
        let gateway: any TestClientProtocol
        let sandbox: Sandbox

        func ask(_ body: String, user: String = "dashboard-user") async throws -> TestResponse {
            let token = try await TestSupport.userToken(user)
            return try await gateway.execute(
                uri: "/functions/v1/revio-data",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: body)
            )
        }

        func dashboard(_ body: String) async throws -> DashboardResponse {
            let response = try await ask(body)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(DashboardResponse.self, from: Data(buffer: response.body))
        }

        var customerListCalls: Int { sandbox.faults.requests.filter { $0.path == "/revio/customers" }.count }
    }

    /// Enough for Revio's paging (two pages of 200) and every group, few enough that a cold fetch (three calls per
    /// customer) stays well inside the gateway's 30 s while the other suites load the machine (400 did not, in CI).
    static let customers = 220
    static let customerPages = 2

    static func run(apiKey: String? = "revio_sandbox_key", timeout: Duration = .seconds(5), _ test: @Sendable (Harness) async throws -> Void)
        async throws
    {
        try await TestSupport.withPostgres { client in
            try await RevioDataService.descriptor.migrationRunner.run(on: client, logger: TestSupport.logger)
            try await client.query("DELETE FROM revio.dataset_cache", logger: TestSupport.logger)
        }
        var sandboxSettings = SandboxSettings()
        sandboxSettings.revioCustomers = customers
        try await TestSupport.withSandbox(sandboxSettings) { sandbox, revio in
            var settings = RevioSettings(apiURL: revio.baseURL + "/revio", apiKey: apiKey)
            settings.timeout = timeout
            settings.concurrency = 16
            let app = await RevioDataService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
            try await app.test(.live) { service in
                try await TestSupport.withGateway(services: ["revio-data": service.baseURL]) { gateway in
                    try await test(Harness(gateway: gateway, sandbox: sandbox))
                }
            }
        }
    }

    static func expire() async throws {
        try await TestSupport.withPostgres { client in
            try await client.query("UPDATE revio.dataset_cache SET fetched_at = now() - interval '1 hour'", logger: TestSupport.logger)
        }
    }

    @Test func everyDataTypeCountsWhatRevioHolds() async throws {
        try await Self.run { h async throws in
            let revio = h.sandbox.revio
            let all = try await h.dashboard(#"{"dataType": "all", "per_page": 200}"#)
            #expect(all.success && all.source == "live" && !all.stale)
            #expect(all.data.pagination.totalCustomers == Self.customers)

            // The expected numbers, computed here from the sandbox's records, in the seed's words.
            func ticketStatus(_ id: String) -> String? {
                let statuses = Set((revio.tickets[id] ?? []).map(\.status))
                if statuses.contains("open") { return "open" }
                if statuses.contains("pending") { return "in_progress" }
                return statuses.isEmpty ? nil : "resolved"
            }
            var byTicket = Dictionary(grouping: revio.customers.compactMap { ticketStatus($0.id) }, by: { $0 }).mapValues(\.count)
            for status in ["open", "in_progress", "resolved"] { byTicket[status, default: 0] += 0 }
            #expect(Dictionary(uniqueKeysWithValues: all.data.customersByTicket.map { ($0.status, $0.count) }) == byTicket)

            let sandboxSLA = ["platinum": "platinum", "gold": "gold", "silver": "silver", "bronze": "bronze", "standard": "silver"]
            let bySLA = Dictionary(grouping: revio.customers, by: { revio.slas[$0.id].map { sandboxSLA[$0.tier]! } ?? "bronze" }).mapValues(\.count)
            #expect(Dictionary(uniqueKeysWithValues: all.data.customersBySLA.map { ($0.slaTier, $0.count) }) == bySLA)

            func revenueTier(_ cents: Int64) -> String { cents >= 500_000 ? "enterprise" : cents >= 100_000 ? "mid_market" : "smb" }
            let byRevenue = Dictionary(grouping: revio.revenue, by: { revenueTier($0.monthlyRevenueCents) })
            #expect(all.data.customersByRevenue.map(\.revenueTier) == ["enterprise", "mid_market", "smb"])
            for group in all.data.customersByRevenue {
                #expect(group.count == byRevenue[group.revenueTier]?.count ?? 0)
                let cents = byRevenue[group.revenueTier]?.reduce(0) { $0 + $1.monthlyRevenueCents } ?? 0
                #expect(group.totalRevenueCents == cents)
                #expect(group.totalRevenue * 100 == Decimal(cents))
                #expect(group.customers.count == min(group.count, 200))
            }

            let states = revio.customers.map { revio.subscriptions[$0.id]?.status ?? "active" }
            #expect(all.data.subscriptions.active == states.filter { $0 == "active" || $0 == "past_due" }.count)
            #expect(all.data.subscriptions.trial == states.filter { $0 == "trialing" }.count)
            #expect(all.data.subscriptions.churned == Self.customers - all.data.subscriptions.active - all.data.subscriptions.trial)

            let shown = revio.transactions.filter { ["payment", "support_call", "plan_change"].contains($0.type) }
            let newest = shown.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(50)
            #expect(all.data.recentInteractions.map(\.timestamp) == newest.map(\.createdAt))
            #expect(all.data.recentInteractions.map(\.amountCents) == newest.map { $0.type == "support_call" ? nil : $0.amountCents })

            let onlySLA = try await h.dashboard(#"{"dataType": "customers_by_sla"}"#)
            #expect(onlySLA.data.customersByTicket.isEmpty && onlySLA.data.customersByRevenue.isEmpty)
            #expect(onlySLA.data.subscriptions == RevioGrouping.SubscriptionCounts())
            #expect(onlySLA.data.customersBySLA.map(\.count) == all.data.customersBySLA.map(\.count))
            #expect(h.customerListCalls == Self.customerPages, "the customers in pages of 200, fetched once for both requests")
        }
    }

    @Test func badRequestsAre400() async throws {
        try await Self.run { h async throws in
            let unknown = try await h.ask(#"{"dataType": "everything"}"#)
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body).contains("invalid_data_type"))
            let tooMany = try await h.ask(#"{"dataType": "all", "per_page": 500, "page": 0}"#)
            #expect(tooMany.status == .badRequest)
            #expect(String(buffer: tooMany.body).contains(#""field":"per_page""#))
            #expect(String(buffer: tooMany.body).contains(#""field":"page""#))
            #expect(h.customerListCalls == 0)
        }
    }

    @Test func revioFailingServesTheLastGoodDataMarkedStale() async throws {
        try await Self.run(timeout: .milliseconds(300)) { h async throws in
            let fresh = try await h.dashboard(#"{"dataType": "subscriptions"}"#)
            try await Self.expire()
            h.sandbox.faults.add(Fault(pathPrefix: "/revio/", status: 500, times: nil))
            let stale = try await h.dashboard(#"{"dataType": "subscriptions"}"#)
            #expect(stale.stale)
            #expect(stale.message?.contains("Revio is unavailable") == true)
            #expect(stale.data.subscriptions == fresh.data.subscriptions)

            h.sandbox.faults.clear()
            h.sandbox.faults.add(Fault(pathPrefix: "/revio/", delayMilliseconds: 2_000, times: nil))
            let timedOut = try await h.dashboard(#"{"dataType": "subscriptions"}"#)
            #expect(timedOut.stale)

            h.sandbox.faults.clear()
            let refreshed = try await h.dashboard(#"{"dataType": "subscriptions"}"#)
            #expect(!refreshed.stale)
            #expect(refreshed.fetchedAt > fresh.fetchedAt)
        }
    }

    @Test func aColdCacheWithRevioDownIs503() async throws {
        try await Self.run { h async throws in
            h.sandbox.faults.add(Fault(pathPrefix: "/revio/", status: 503, times: nil))
            let response = try await h.ask(#"{"dataType": "all"}"#)
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body).contains(#""code":"revio_unavailable""#))
        }
    }

    @Test func aHundredConcurrentRequestsOnAColdCacheFetchOnce() async throws {
        try await Self.run { h async throws in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<100 {
                    group.addTask { try await h.ask(#"{"dataType": "customers_by_revenue"}"#, user: "user-\(index)").status }
                }
                for try await status in group { #expect(status == .ok) }
            }
            #expect(h.sandbox.faults.requests.filter { $0.path == "/revio/customers" }.count == Self.customerPages)
            #expect(h.sandbox.faults.requests.filter { $0.path == "/revio/analytics/revenue" }.count == 1)

            try await Self.expire()
            _ = try await h.dashboard(#"{"dataType": "subscriptions"}"#)
            #expect(h.sandbox.faults.requests.filter { $0.path == "/revio/analytics/revenue" }.count == 2, "the expired cache was refreshed")
        }
    }

    @Test func withoutAKeyTheDemoDataIsServedAndEveryAccessIsAudited() async throws {
        try await Self.run(apiKey: nil) { h async throws in
            let demo = try await h.dashboard(#"{"dataType": "all"}"#)
            #expect(demo.source == "demo")
            #expect(demo.data.pagination.totalCustomers == 120)
            #expect(h.sandbox.faults.requests.isEmpty)
            let admin = try await TestSupport.userToken("revio-admin", admin: true)
            let audit = try await h.gateway.execute(uri: "/api/revio/audit?limit=5", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(audit.status == .ok)
            #expect(String(buffer: audit.body).contains(#""source":"demo""#))
            let user = try await TestSupport.userToken("not-an-admin")
            #expect(
                try await h.gateway.execute(uri: "/api/revio/audit", method: .get, headers: [.authorization: "Bearer \(user)"]).status == .forbidden
            )
        }
    }
}
